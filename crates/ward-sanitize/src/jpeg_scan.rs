//! The entropy walk of a sequential (baseline or extended, Huffman-coded) JPEG: every block of
//! every component in every scan is Huffman-decoded against the file's own tables, and nothing
//! else is computed (no dequantisation, IDCT, upsampling or colour conversion).
//!
//! It is stricter than a decoder that makes pixels: a code no table holds, a coefficient past
//! the end of a block, scan data that ends before the last block, bytes left over after it,
//! a restart marker out of sequence, and a component that no scan (or two scans) carries are
//! all refused, where decoders pad with zero bits, skip bytes or resynchronise.

use crate::error::{Error, Result};
use crate::kind::FileKind;

const KIND: FileKind = FileKind::Jpeg;

/// What the walk found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Walk {
    /// Every scan of a sequential frame decoded, up to the end-of-image marker.
    Checked,
    /// A progressive frame (SOF2): its scans refine each other and are left to the decoder.
    Progressive,
}

/// Huffman codes up to this many bits long are resolved by one table look-up.
const FAST_BITS: u32 = 11;

/// A decoded code as the walk needs it, in a `u16`: the bits to skip (the code and the
/// coefficient's magnitude bits, whose value is not needed) in bits 0 to 4, and how far the
/// coefficient index advances in bits 5 to 12. Never 0, so 0 in the fast table means "look
/// further".
const SKIP_MASK: u16 = 31;
const ADVANCE_SHIFT: u16 = 5;
/// End-of-block advances the index this far: past 64 by more than any real step can.
const END_OF_BLOCK: u16 = 128;

/// Up to this coefficient index (exclusive) the first code of a pair, advancing at most 16,
/// cannot end the block, so a pair can be taken without looking at the index.
const PAIRS_ALWAYS_FIT: u16 = 64 - 16;

/// The most bits one AC step takes: a 16-bit code and 10 magnitude bits.
const MAX_STEP_BITS: u32 = 26;

/// Whether a table decodes DC differences or AC run/size pairs.
#[derive(Clone, Copy)]
enum Class {
    Dc,
    Ac,
}

/// The step for a code of `len` bits carrying `symbol`; `None` for a symbol no 8-bit JPEG may
/// hold (a DC magnitude above 11 bits, an AC one above 10).
fn step(class: Class, len: u32, symbol: u8) -> Option<u16> {
    let len = len as u16;
    let (run, size) = (u16::from(symbol >> 4), u16::from(symbol & 15));
    match class {
        Class::Dc if symbol > 11 => None,
        Class::Dc => Some(len + u16::from(symbol)),
        Class::Ac if size == 0 && run == 15 => Some(len | 16 << ADVANCE_SHIFT),
        Class::Ac if size == 0 => Some(len | END_OF_BLOCK << ADVANCE_SHIFT),
        Class::Ac if size > 10 => None,
        Class::Ac => Some((len + size) | (run + 1) << ADVANCE_SHIFT),
    }
}

/// One Huffman table: a direct look-up for short codes, canonical bounds for the rest.
struct Table {
    class: Class,
    /// Indexed by the next [`FAST_BITS`] bits. Low half: the [`step`] of a code up to that
    /// long, or 0 (a longer code, none, or a symbol out of range). High half, AC tables only:
    /// the step of that code and the next one together when both, with their magnitude bits,
    /// fit in the same bits and the first is not end-of-block (else 0).
    fast: Box<[u32; 1 << FAST_BITS]>,
    /// For lengths 1 to 16: the first code of that length, left-aligned in 16 bits.
    first: [u32; 17],
    /// For lengths 1 to 16: one past the last code of that length, left-aligned in 16 bits.
    end: [u32; 17],
    /// For lengths 1 to 16: index in `symbols` of the first code of that length.
    offset: [usize; 17],
    symbols: Vec<u8>,
}

impl Table {
    /// Builds the table from a DHT's 16 counts and its symbols, refusing a table whose codes
    /// overflow their length (libjpeg's rule, which also refuses the all-ones code).
    fn new(class: Class, counts: &[u8], symbols: &[u8]) -> Result<Self> {
        let mut table = Self {
            class,
            fast: Box::new([0; 1 << FAST_BITS]),
            first: [0; 17],
            end: [0; 17],
            offset: [0; 17],
            symbols: symbols.to_vec(),
        };
        // The code length behind each fast entry, for pairing.
        let mut lengths = vec![0u32; 1 << FAST_BITS];
        let mut code: u32 = 0;
        let mut index = 0;
        for len in 1..=16u32 {
            let count = usize::from(counts[len as usize - 1]);
            table.first[len as usize] = code << (16 - len);
            table.offset[len as usize] = index;
            for _ in 0..count {
                if code >= 1 << len {
                    return Err(Error::malformed(KIND, "huffman table has too many codes"));
                }
                if len <= FAST_BITS {
                    let shift = FAST_BITS - len;
                    let start = (code << shift) as usize;
                    let entry = step(class, len, symbols[index]).unwrap_or(0);
                    table.fast[start..start + (1 << shift)].fill(u32::from(entry));
                    lengths[start..start + (1 << shift)].fill(len);
                }
                code += 1;
                index += 1;
            }
            if count > 0 && code >= 1 << len {
                return Err(Error::malformed(KIND, "huffman table has too many codes"));
            }
            table.end[len as usize] = code << (16 - len);
            code <<= 1;
        }
        if matches!(class, Class::Ac) {
            table.pair_up(&lengths);
        }
        Ok(table)
    }

    /// Fills the high half of each fast entry whose bits hold a second whole code (and its
    /// magnitude bits) after the first.
    fn pair_up(&mut self, lengths: &[u32]) {
        let mask = (1usize << FAST_BITS) - 1;
        for index in 0..self.fast.len() {
            let first = self.fast[index] as u16;
            let used = u32::from(first & SKIP_MASK);
            if first == 0 || first >> ADVANCE_SHIFT == END_OF_BLOCK || used >= FAST_BITS {
                continue;
            }
            let next = (index << used) & mask;
            let second = self.fast[next] as u16;
            let both = used + u32::from(second & SKIP_MASK);
            if second != 0 && lengths[next] <= FAST_BITS - used && both <= FAST_BITS {
                let advance = (first >> ADVANCE_SHIFT) + (second >> ADVANCE_SHIFT);
                let pair = both as u16 | advance << ADVANCE_SHIFT;
                self.fast[index] |= u32::from(pair) << 16;
            }
        }
    }

    /// The step for the code at the start of the next 16 bits, when the fast table has none.
    fn slow(&self, peek: u32) -> Result<u16> {
        // Codes up to FAST_BITS long fill the code space below `end[FAST_BITS]`: such a code is
        // here only when its symbol is out of range.
        let lengths = if peek < self.end[FAST_BITS as usize] {
            1..=FAST_BITS
        } else {
            FAST_BITS + 1..=16
        };
        for len in lengths {
            let l = len as usize;
            if peek < self.end[l] {
                if peek < self.first[l] {
                    break;
                }
                let index = self.offset[l] + ((peek - self.first[l]) >> (16 - len)) as usize;
                let Some(&symbol) = self.symbols.get(index) else {
                    break;
                };
                return step(self.class, len, symbol)
                    .ok_or(Error::malformed(KIND, "coefficient out of range"));
            }
        }
        Err(Error::malformed(KIND, "huffman code not in the table"))
    }
}

/// Reads the entropy-coded bits of one scan, `FF 00` unstuffed, stopping at any marker.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    /// The next bits, left-aligned. Bits past `count` are zero at a marker, and otherwise may
    /// already hold the bytes that follow (a refill writes the same bits there again).
    buf: u64,
    /// Real bits in `buf` (never padding).
    count: u32,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8], pos: usize) -> Self {
        Self {
            data,
            pos,
            buf: 0,
            count: 0,
        }
    }

    /// Tops the buffer up to at least 57 bits, or to the next marker.
    #[inline]
    fn refill(&mut self) {
        // Fast path: the next eight bytes hold no 0xFF, so they are all data.
        if let Some(&word) = self
            .data
            .get(self.pos..self.pos + 8)
            .and_then(|w| w.first_chunk())
        {
            let word = u64::from_be_bytes(word);
            let ff = !word;
            // A byte of `word` is 0xFF exactly when the same byte of `ff` is 0.
            let zero_bytes = ff.wrapping_sub(0x0101_0101_0101_0101) & !ff & 0x8080_8080_8080_8080;
            if zero_bytes == 0 {
                let take = (63 - self.count) / 8;
                self.buf |= word >> self.count;
                self.pos += take as usize;
                self.count += take * 8;
                return;
            }
        }
        while self.count <= 56 {
            let Some(&byte) = self.data.get(self.pos) else {
                return;
            };
            if byte == 0xFF {
                if self.data.get(self.pos + 1) != Some(&0x00) {
                    return; // a marker: the scan data (or this restart interval) ends here
                }
                self.pos += 2;
            } else {
                self.pos += 1;
            }
            self.buf |= u64::from(byte) << (56 - self.count);
            self.count += 8;
        }
    }

    /// Drops `n` bits (`n` ≤ 32), refusing to go past the last real bit.
    #[inline(always)]
    fn consume(&mut self, n: u32) -> Result<()> {
        if n > self.count {
            return Err(Error::malformed(
                KIND,
                "scan data ends before its last block",
            ));
        }
        self.buf <<= n;
        self.count -= n;
        Ok(())
    }

    /// Decodes one Huffman code with its magnitude bits and returns its step.
    #[inline(always)]
    fn next(&mut self, table: &Table) -> Result<u16> {
        if self.count < 32 {
            self.refill();
        }
        let mut entry = table.fast[(self.buf >> (64 - FAST_BITS)) as usize] as u16;
        if entry == 0 {
            entry = table.slow((self.buf >> 48) as u32)?;
        }
        self.consume(u32::from(entry & SKIP_MASK))?;
        Ok(entry)
    }

    /// Decodes one AC code, or two when the table pairs them, and returns how far the
    /// coefficient index advances; the caller has refilled for [`MAX_STEP_BITS`].
    #[inline(always)]
    fn ac_step(&mut self, ac: &Table) -> Result<u16> {
        let entry = ac.fast[(self.buf >> (64 - FAST_BITS)) as usize];
        let pair = (entry >> 16) as u16;
        let mut chosen = if pair != 0 { pair } else { entry as u16 };
        if chosen == 0 {
            chosen = ac.slow((self.buf >> 48) as u32)?;
        }
        self.consume(u32::from(chosen & SKIP_MASK))?;
        Ok(chosen >> ADVANCE_SHIFT)
    }

    /// Walks one 8×8 block: the DC difference, then AC coefficients up to end-of-block.
    #[inline(always)]
    fn block(&mut self, dc: &Table, ac: &Table) -> Result<()> {
        self.next(dc)?;
        let mut k = 1u16;
        // Below coefficient 48 a pair never crosses the block's end (its first code advances
        // the index by at most 16), so the pair is taken whenever the table has one: the
        // check on `k` stays off the path from one look-up to the next.
        // Two steps per refill: each takes at most 26 bits (a 16-bit code and 10 magnitude
        // bits), and a refill leaves at least 56 unless the scan's data ends first.
        while k < PAIRS_ALWAYS_FIT {
            if self.count < 2 * MAX_STEP_BITS {
                self.refill();
            }
            k += self.ac_step(ac)?;
            if k >= PAIRS_ALWAYS_FIT {
                break;
            }
            k += self.ac_step(ac)?;
        }
        while k < 64 {
            if self.count < 32 {
                self.refill();
            }
            let entry = ac.fast[(self.buf >> (64 - FAST_BITS)) as usize];
            let (single, pair) = (entry as u16, (entry >> 16) as u16);
            // Two codes at once, unless the first ends the block's 63 coefficients.
            let use_pair = (pair != 0) & (k + (single >> ADVANCE_SHIFT) < 64);
            let mut chosen = if use_pair { pair } else { single };
            if chosen == 0 {
                chosen = ac.slow((self.buf >> 48) as u32)?;
            }
            self.consume(u32::from(chosen & SKIP_MASK))?;
            k += chosen >> ADVANCE_SHIFT;
        }
        // 64 after the last coefficient, at most 79 past it, above 128 after end-of-block.
        if k > 64 && k < END_OF_BLOCK {
            return Err(Error::malformed(
                KIND,
                "coefficient past the end of a block",
            ));
        }
        Ok(())
    }

    /// At a restart interval's or a scan's end: drops the last byte's padding bits and
    /// requires that nothing is left before the marker. Returns the marker's position (after
    /// any `FF` fill bytes) and code.
    fn finish(&mut self) -> Result<(usize, u8)> {
        self.consume(self.count % 8)?;
        if self.count == 0 {
            self.refill();
        }
        if self.count != 0 {
            return Err(Error::malformed(KIND, "extra bytes after a scan's blocks"));
        }
        let mut at = self.pos;
        while self.data.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        match self.data.get(at + 1) {
            Some(&code) if self.data.get(at) == Some(&0xFF) => Ok((at, code)),
            _ => Err(Error::malformed(KIND, "scan data does not end at a marker")),
        }
    }
}

/// A frame component: its id, sampling factors and whether a scan has carried it.
#[derive(Clone, Copy)]
struct Component {
    id: u8,
    h: usize,
    v: usize,
    quant: u8,
    scanned: bool,
}

struct Frame {
    width: usize,
    height: usize,
    components: Vec<Component>,
    h_max: usize,
    v_max: usize,
}

/// Walks the segments of a stripped JPEG (its structure already checked by the stripper) and
/// every scan of a sequential frame. Returns [`Walk::Progressive`] at a progressive frame.
pub(crate) fn walk(bytes: &[u8]) -> Result<Walk> {
    let mut dc: [Option<Table>; 4] = [None, None, None, None];
    let mut ac: [Option<Table>; 4] = [None, None, None, None];
    let mut quant = [false; 4];
    let mut restart_interval = 0usize;
    let mut frame: Option<Frame> = None;
    let mut pos = 2;
    loop {
        if bytes.get(pos) != Some(&0xFF) {
            return Err(Error::malformed(KIND, "expected a marker"));
        }
        // `FF` fill bytes may precede a marker code.
        while bytes.get(pos + 1) == Some(&0xFF) {
            pos += 1;
        }
        let Some(&marker) = bytes.get(pos + 1) else {
            return Err(Error::malformed(KIND, "truncated before end-of-image"));
        };
        if marker == 0xD9 {
            let Some(frame) = frame else {
                return Err(Error::malformed(KIND, "no frame before end-of-image"));
            };
            if frame.components.iter().any(|c| !c.scanned) {
                return Err(Error::malformed(KIND, "a component is in no scan"));
            }
            return Ok(Walk::Checked);
        }
        let len = match bytes.get(pos + 2..pos + 4) {
            Some(&[a, b]) => usize::from(u16::from_be_bytes([a, b])),
            _ => return Err(Error::malformed(KIND, "truncated segment length")),
        };
        let Some(body) = bytes.get(pos + 4..(pos + 2 + len).max(pos + 4)) else {
            return Err(Error::malformed(
                KIND,
                "segment runs past the end of the file",
            ));
        };
        pos += 2 + len;
        match marker {
            0xC0 | 0xC1 => frame = Some(read_frame(body)?),
            0xC2 => return Ok(Walk::Progressive),
            0xC4 => read_tables(body, &mut dc, &mut ac)?,
            0xDB => read_quant(body, &mut quant)?,
            0xDD => {
                let Some(&[a, b]) = body.get(..2) else {
                    return Err(Error::malformed(KIND, "short restart interval"));
                };
                restart_interval = usize::from(u16::from_be_bytes([a, b]));
            }
            0xDA => {
                let Some(frame) = frame.as_mut() else {
                    return Err(Error::malformed(KIND, "scan before frame header"));
                };
                let scan = read_scan(body, frame, &quant, &dc, &ac)?;
                pos = walk_scan(bytes, pos, frame, &scan, (&dc, &ac), restart_interval)?;
            }
            // The other segments the stripper keeps (APP0, APP2, APP14) say nothing about scans.
            _ => {}
        }
    }
}

fn read_frame(body: &[u8]) -> Result<Frame> {
    let short = || Error::malformed(KIND, "short frame header");
    let header = body.get(..6).ok_or_else(short)?;
    let height = usize::from(u16::from_be_bytes([header[1], header[2]]));
    let width = usize::from(u16::from_be_bytes([header[3], header[4]]));
    let count = usize::from(header[5]);
    if !(1..=4).contains(&count) {
        return Err(Error::malformed(
            KIND,
            "frame has no or too many components",
        ));
    }
    let specs = body.get(6..6 + 3 * count).ok_or_else(short)?;
    let mut components = Vec::with_capacity(count);
    for spec in specs.chunks_exact(3) {
        let (h, v) = (usize::from(spec[1] >> 4), usize::from(spec[1] & 15));
        if !(1..=4).contains(&h) || !(1..=4).contains(&v) || spec[2] > 3 {
            return Err(Error::malformed(KIND, "bad frame component"));
        }
        if components.iter().any(|c: &Component| c.id == spec[0]) {
            return Err(Error::malformed(KIND, "repeated frame component"));
        }
        components.push(Component {
            id: spec[0],
            h,
            v,
            quant: spec[2],
            scanned: false,
        });
    }
    let h_max = components.iter().map(|c| c.h).max().unwrap_or(1);
    let v_max = components.iter().map(|c| c.v).max().unwrap_or(1);
    Ok(Frame {
        width,
        height,
        components,
        h_max,
        v_max,
    })
}

fn read_tables(
    mut body: &[u8],
    dc: &mut [Option<Table>; 4],
    ac: &mut [Option<Table>; 4],
) -> Result<()> {
    let bad = || Error::malformed(KIND, "bad huffman table");
    while let Some((&class_id, rest)) = body.split_first() {
        let counts = rest.get(..16).ok_or_else(bad)?;
        let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
        let symbols = rest.get(16..16 + total).ok_or_else(bad)?;
        if total > 256 {
            return Err(bad());
        }
        let id = usize::from(class_id & 15);
        match (class_id >> 4, id) {
            (0, 0..=3) => dc[id] = Some(Table::new(Class::Dc, counts, symbols)?),
            (1, 0..=3) => ac[id] = Some(Table::new(Class::Ac, counts, symbols)?),
            _ => return Err(bad()),
        }
        body = &rest[16 + total..];
    }
    Ok(())
}

fn read_quant(mut body: &[u8], quant: &mut [bool; 4]) -> Result<()> {
    while let Some((&precision_id, rest)) = body.split_first() {
        let size = if precision_id >> 4 == 0 { 64 } else { 128 };
        let id = usize::from(precision_id & 15);
        if id > 3 || rest.len() < size {
            return Err(Error::malformed(KIND, "bad quantisation table"));
        }
        quant[id] = true;
        body = &rest[size..];
    }
    Ok(())
}

/// A scan: for each of its components, the index in the frame and the two table ids.
struct Scan {
    components: Vec<(usize, usize, usize)>,
}

fn read_scan(
    body: &[u8],
    frame: &mut Frame,
    quant: &[bool; 4],
    dc: &[Option<Table>; 4],
    ac: &[Option<Table>; 4],
) -> Result<Scan> {
    let bad = |reason| Error::malformed(KIND, reason);
    let Some(&count) = body.first() else {
        return Err(bad("short scan header"));
    };
    let count = usize::from(count);
    let Some(specs) = body.get(1..1 + 2 * count) else {
        return Err(bad("short scan header"));
    };
    if count == 0 || count > 4 {
        return Err(bad("scan has no or too many components"));
    }
    if body.get(1 + 2 * count..4 + 2 * count) != Some(&[0, 63, 0]) {
        return Err(bad("sequential scan with a spectral selection"));
    }
    let mut components = Vec::with_capacity(count);
    let mut blocks = 0;
    for spec in specs.chunks_exact(2) {
        let Some(index) = frame.components.iter().position(|c| c.id == spec[0]) else {
            return Err(bad("scan component not in the frame"));
        };
        let component = &mut frame.components[index];
        if component.scanned {
            return Err(bad("component in two scans"));
        }
        component.scanned = true;
        if !quant[usize::from(component.quant)] {
            return Err(bad("component without its quantisation table"));
        }
        let (d, a) = (usize::from(spec[1] >> 4), usize::from(spec[1] & 15));
        if dc.get(d).is_none_or(Option::is_none) || ac.get(a).is_none_or(Option::is_none) {
            return Err(bad("scan names a huffman table not defined"));
        }
        blocks += component.h * component.v;
        components.push((index, d, a));
    }
    if count > 1 && blocks > 10 {
        return Err(bad("more than 10 blocks in an mcu"));
    }
    Ok(Scan { components })
}

/// Walks one scan's entropy-coded data from `start`; returns the position of the marker after
/// it.
#[inline(never)]
fn walk_scan(
    bytes: &[u8],
    start: usize,
    frame: &Frame,
    scan: &Scan,
    tables: (&[Option<Table>; 4], &[Option<Table>; 4]),
    restart_interval: usize,
) -> Result<usize> {
    let undefined = || Error::malformed(KIND, "scan names a huffman table not defined");
    // For each scan component: blocks per MCU and its two tables; and the MCU count.
    let mut units = Vec::with_capacity(scan.components.len());
    for &(index, d, a) in &scan.components {
        let c = frame.components[index];
        let dc = tables.0[d].as_ref().ok_or_else(undefined)?;
        let ac = tables.1[a].as_ref().ok_or_else(undefined)?;
        units.push((c.h * c.v, dc, ac));
    }
    let mcus = if let [(index, _, _)] = scan.components[..] {
        // One component: its blocks in raster order, one per MCU.
        let c = frame.components[index];
        let w = (frame.width * c.h).div_ceil(frame.h_max).div_ceil(8);
        let h = (frame.height * c.v).div_ceil(frame.v_max).div_ceil(8);
        units[0].0 = 1;
        w * h
    } else {
        frame.width.div_ceil(8 * frame.h_max) * frame.height.div_ceil(8 * frame.v_max)
    };
    let mut bits = Bits::new(bytes, start);
    let mut restart = 0u8;
    for mcu in 0..mcus {
        if restart_interval > 0 && mcu > 0 && mcu % restart_interval == 0 {
            let (at, code) = bits.finish()?;
            if code != 0xD0 + restart {
                return Err(Error::malformed(KIND, "restart marker out of sequence"));
            }
            restart = (restart + 1) % 8;
            bits = Bits::new(bytes, at + 2);
        }
        for &(blocks, dc, ac) in &units {
            for _ in 0..blocks {
                bits.block(dc, ac)?;
            }
        }
    }
    let (at, code) = bits.finish()?;
    if (0xD0..=0xD7).contains(&code) {
        return Err(Error::malformed(
            KIND,
            "restart marker after a scan's last block",
        ));
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(lengths: &[(usize, u8)]) -> [u8; 16] {
        let mut counts = [0; 16];
        for &(len, n) in lengths {
            counts[len - 1] = n;
        }
        counts
    }

    /// Bytes from a string of `0` and `1`, the last byte padded with zeros.
    fn pack(bits: &str) -> Vec<u8> {
        bits.as_bytes()
            .chunks(8)
            .map(|byte| {
                let value = byte.iter().fold(0u8, |acc, &b| acc << 1 | (b - b'0'));
                value << (8 - byte.len())
            })
            .collect()
    }

    #[test]
    fn steps_refuse_magnitudes_no_8_bit_jpeg_holds() {
        // DC differences take up to 11 magnitude bits, AC coefficients up to 10.
        assert_eq!(step(Class::Dc, 3, 11), Some(3 + 11));
        assert_eq!(step(Class::Dc, 3, 12), None);
        assert_eq!(
            step(Class::Ac, 5, 0x3A),
            Some((5 + 10) | 4 << ADVANCE_SHIFT)
        );
        assert_eq!(step(Class::Ac, 5, 0x3B), None);
        assert_eq!(step(Class::Ac, 5, 0x0F), None);
        // Zero run length 16 (ZRL) and end of block carry no magnitude bits.
        assert_eq!(step(Class::Ac, 5, 0xF0), Some(5 | 16 << ADVANCE_SHIFT));
        assert_eq!(
            step(Class::Ac, 5, 0x00),
            Some(5 | END_OF_BLOCK << ADVANCE_SHIFT)
        );
    }

    /// The bytes a refill put in the buffer (whole bytes of `count`).
    fn buffered(bits: &Bits<'_>) -> Vec<u8> {
        bits.buf.to_be_bytes()[..(bits.count / 8) as usize].to_vec()
    }

    #[test]
    fn a_refill_drops_stuffed_zeros_and_stops_at_a_marker_wherever_they_fall() {
        // Bytes with the high bit set, like 0xFF: a test for 0xFF that looks at one bit fails.
        let plain: Vec<u8> = (0x80..0xA0).collect();
        for at in 0..12 {
            // 0xFF 0x00 is a data byte 0xFF.
            let mut data = plain.clone();
            data.splice(at..at, [0xFF, 0x00]);
            let mut expected = plain.clone();
            expected.insert(at, 0xFF);
            let mut bits = Bits::new(&data, 0);
            bits.refill();
            let got = buffered(&bits);
            assert!(
                got.len() >= 7 && expected.starts_with(&got),
                "stuffed at {at}: {got:02x?}"
            );
            // 0xFF 0xD0 is a marker: the data ends before it.
            let mut data = plain.clone();
            data.splice(at..at, [0xFF, 0xD0]);
            let mut bits = Bits::new(&data, 0);
            bits.refill();
            let got = buffered(&bits);
            assert!(
                got.len() >= at.min(7) && got.len() <= at,
                "marker at {at}: {got:02x?}"
            );
            assert!(plain.starts_with(&got));
        }
        // Fill bytes before a marker: eight 0xFF bytes in a row are not data either.
        let mut bits = Bits::new(&[0xFF; 10], 0);
        bits.refill();
        assert_eq!(bits.count, 0);
    }

    #[test]
    fn a_long_dc_code_in_a_block_is_read_through_the_slow_path() {
        // DC codes 0, 10 and 12-bit codes from 110000000000 (symbols 0 to 12); AC: 0 is
        // end-of-block, the only code.
        let symbols: Vec<u8> = (0..13).collect();
        let dc = Table::new(Class::Dc, &counts(&[(1, 1), (2, 1), (12, 11)]), &symbols).unwrap();
        let ac = Table::new(Class::Ac, &counts(&[(1, 1)]), &[0x00]).unwrap();
        // 110000000000 = symbol 2: a difference of two bits, 01; then end-of-block.
        let bits = "110000000000".to_owned() + "01" + "0";
        let data = pack(&(bits.clone() + &"1".repeat(8)));
        let mut reader = Bits::new(&data, 0);
        reader.block(&dc, &ac).unwrap();
        assert_eq!(reader.count as usize, 8 * data.len() - bits.len());
    }

    #[test]
    fn a_table_with_more_codes_than_fit_is_refused() {
        // Two 1-bit codes use the whole code space: the all-ones code is refused, as by libjpeg.
        assert!(Table::new(Class::Dc, &counts(&[(1, 2)]), &[0, 1]).is_err());
        assert!(Table::new(Class::Dc, &counts(&[(1, 3)]), &[0, 1, 2]).is_err());
        assert!(Table::new(Class::Dc, &counts(&[(1, 1), (2, 1)]), &[0, 1]).is_ok());
    }

    #[test]
    fn long_codes_resolve_through_the_slow_path() {
        // Codes: 0, 10, then 11 codes of 12 bits from 110000000000.
        let symbols: Vec<u8> = (0..13).collect();
        let table = Table::new(Class::Dc, &counts(&[(1, 1), (2, 1), (12, 11)]), &symbols).unwrap();
        // 1100_0000_0000 is symbol 2; 1100_0000_1010 is symbol 12 (out of range for DC).
        assert_eq!(table.slow(0b1100_0000_0000_0000).unwrap(), 12 + 2);
        let fast = |prefix: usize, bits: u32| table.fast[prefix << (FAST_BITS - bits)];
        assert_eq!(fast(0b1100, 4), 0, "a 12-bit code is not in the fast table");
        let reason = |peek| match table.slow(peek) {
            Err(Error::Malformed { reason, .. }) => reason,
            other => panic!("{other:?}"),
        };
        assert_eq!(reason(0b1100_0000_1010_0000), "coefficient out of range");
        // 1100_0000_1011 and above hold no code.
        assert_eq!(
            reason(0b1100_0000_1011_0000),
            "huffman code not in the table"
        );
        assert_eq!(reason(0xFFFF), "huffman code not in the table");
        // The short codes are in the fast table: 0 (1 bit) and 10 (2 bits).
        assert_eq!(fast(0, 1), 1);
        assert_eq!(fast(0b10, 2), 2 + 1);
    }

    /// DC: 0, 10, 110 and 1110, each "no difference". AC: 0 = one coefficient of 10 bits
    /// (11 bits in all, never paired), 10 = end-of-block, 110 = sixteen zeros, 1110 = one
    /// coefficient of 1 bit, 11110 = a zero and a coefficient of 10 bits (15 bits, never
    /// paired), and with `long_code` a 12-bit code 111110000000 for a coefficient of 1 bit
    /// (read through the slow path).
    fn block_tables(long_code: bool) -> (Table, Table) {
        let dc = Table::new(
            Class::Dc,
            &counts(&[(1, 1), (2, 1), (3, 1), (4, 1)]),
            &[0; 4],
        )
        .unwrap();
        let mut lengths = vec![(1, 1), (2, 1), (3, 1), (4, 1), (5, 1)];
        let mut symbols = vec![0x0A, 0x00, 0xF0, 0x01, 0x1A];
        if long_code {
            lengths.push((12, 1));
            symbols.push(0x01);
        }
        let ac = Table::new(Class::Ac, &counts(&lengths), &symbols).unwrap();
        (dc, ac)
    }

    /// Reads two blocks from `bits` and checks that exactly those bits were taken.
    fn two_blocks_read_exactly(bits: &str, dc: &Table, ac: &Table) {
        let data = pack(bits);
        let mut reader = Bits::new(&data, 0);
        reader.block(dc, ac).unwrap();
        reader.block(dc, ac).unwrap();
        assert_eq!(
            reader.count as usize,
            8 * data.len() - bits.len(),
            "both blocks, no more"
        );
    }

    #[test]
    fn a_pair_is_never_taken_across_the_end_of_a_block() {
        let (dc, ac) = block_tables(false);
        // Block 1: DC, coefficients 1 to 47, then sixteen zeros at index 48 end the block
        // exactly. Block 2: DC 1110, end-of-block. Read with the AC table, the bits after
        // "sixteen zeros" hold a 1-bit coefficient, so the table pairs the two: taking that
        // pair would run past index 63. Index 48 is reached after an odd number of steps
        // (47 coefficients) and after an even one (a zero and a coefficient, then 45), so a
        // loop that decodes two steps a turn meets it at either step.
        for lead in ["", "111100000000001"] {
            let mut bits = String::from("0");
            bits.push_str(lead);
            bits.push_str(&"00000000001".repeat(47 - lead.len() / 15 * 2));
            bits.push_str("110");
            bits.push_str("1110");
            bits.push_str("10");
            two_blocks_read_exactly(&bits, &dc, &ac);
        }
    }

    #[test]
    fn a_block_with_all_63_coefficients_ends_exactly_at_its_last() {
        let (dc, ac) = block_tables(true);
        // Block 1: DC; coefficients 1 to 47; 48 to 60 past the paired part of the walk, one
        // of them by the long code; a zero and coefficient 62; then coefficient 63, a short
        // code the table pairs with what follows. Block 2: DC 1110, end-of-block; read as AC
        // codes those bits are a coefficient, which must not be taken with coefficient 63.
        let mut bits = String::from("0");
        bits.push_str(&"00000000001".repeat(47));
        bits.push_str(&"00000000001".repeat(12));
        bits.push_str("1111100000001");
        bits.push_str("111100000000001");
        bits.push_str("11101");
        bits.push_str("1110");
        bits.push_str("10");
        two_blocks_read_exactly(&bits, &dc, &ac);
    }

    #[test]
    fn coefficients_past_the_end_of_a_block_are_refused() {
        // DC: 0. AC: 0 = a coefficient of 10 bits, 10 = end-of-block, 110 = sixteen zeros.
        let dc = Table::new(Class::Dc, &counts(&[(1, 1)]), &[0]).unwrap();
        let ac = Table::new(
            Class::Ac,
            &counts(&[(1, 1), (2, 1), (3, 1)]),
            &[0x0A, 0x00, 0xF0],
        )
        .unwrap();
        // Coefficients 1 to 49, then sixteen zeros: up to index 65.
        let bits = "0".to_owned() + &"00000000001".repeat(49) + "110" + "10";
        let data = pack(&bits);
        let reason = match Bits::new(&data, 0).block(&dc, &ac) {
            Err(Error::Malformed { reason, .. }) => reason,
            other => panic!("{other:?}"),
        };
        assert_eq!(reason, "coefficient past the end of a block");
    }

    #[test]
    fn data_left_before_the_marker_is_extra_bytes_even_when_the_buffer_is_empty() {
        let finish = |data: &[u8]| match Bits::new(data, 0).finish() {
            Ok(end) => Ok(end),
            Err(Error::Malformed { reason, .. }) => Err(reason),
            Err(other) => panic!("{other:?}"),
        };
        assert_eq!(finish(&[0xFF, 0xD9]), Ok((0, 0xD9)));
        assert_eq!(finish(&[0xFF, 0xFF, 0xD9]), Ok((1, 0xD9)));
        assert_eq!(
            finish(&[0x12, 0xFF, 0xD9]),
            Err("extra bytes after a scan's blocks")
        );
        assert_eq!(finish(&[]), Err("scan data does not end at a marker"));
    }

    #[test]
    fn fill_bytes_before_a_segment_marker_are_skipped() {
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new(&mut jpeg)
            .encode(&[128; 64], 8, 8, image::ExtendedColorType::L8)
            .unwrap();
        assert_eq!(walk(&jpeg).unwrap(), Walk::Checked);
        // Two FF fill bytes before the first marker after start-of-image.
        let filled = [&jpeg[..2], &[0xFF, 0xFF], &jpeg[2..]].concat();
        assert_eq!(walk(&filled).unwrap(), Walk::Checked);
    }

    #[test]
    fn frame_components_need_sampling_factors_1_to_4_and_a_table_id_0_to_3() {
        let frame = |sampling: u8, table: u8| {
            let body = [8, 0, 8, 0, 8, 1, 1, sampling, table];
            match read_frame(&body) {
                Ok(frame) => Ok((frame.h_max, frame.v_max)),
                Err(Error::Malformed { reason, .. }) => Err(reason),
                Err(other) => panic!("{other:?}"),
            }
        };
        assert_eq!(frame(0x11, 0), Ok((1, 1)));
        assert_eq!(frame(0x44, 3), Ok((4, 4)));
        for (sampling, table) in [(0x01, 0), (0x10, 0), (0x51, 0), (0x15, 0), (0x11, 4)] {
            assert_eq!(
                frame(sampling, table),
                Err("bad frame component"),
                "{sampling:#x} {table}"
            );
        }
    }

    #[test]
    fn a_huffman_table_holds_at_most_256_symbols() {
        // Two 2-bit codes, then 9-bit codes: room for 255 of them (the all-ones code refused).
        let table = |nine_bit_codes: u8| {
            let mut body = vec![0x00];
            let mut counts = [0u8; 16];
            counts[1] = 2;
            counts[8] = nine_bit_codes;
            body.extend_from_slice(&counts);
            body.extend(std::iter::repeat_n(0, 2 + usize::from(nine_bit_codes)));
            let (mut dc, mut ac) = Default::default();
            read_tables(&body, &mut dc, &mut ac).map(|()| dc[0].is_some())
        };
        assert_eq!(table(254).ok(), Some(true));
        assert!(table(255).is_err(), "257 symbols");
    }

    #[test]
    fn quantisation_tables_have_ids_0_to_3_and_64_or_128_bytes() {
        let quant = |head: u8, len: usize| {
            let body = [&[head][..], &vec![1; len]].concat();
            let mut quant = [false; 4];
            read_quant(&body, &mut quant).map(|()| quant)
        };
        assert_eq!(quant(0x03, 64).ok(), Some([false, false, false, true]));
        assert_eq!(quant(0x10, 128).ok(), Some([true, false, false, false]));
        assert!(quant(0x04, 64).is_err());
        assert!(quant(0x00, 63).is_err());
        assert!(quant(0x10, 127).is_err());
    }

    #[test]
    fn a_scan_names_1_to_4_components_with_defined_tables_and_at_most_10_blocks_an_mcu() {
        // Frame components 1 to 3 with the given sampling factors; tables 0 of each class.
        let scan = |sampling: [u8; 3], specs: &[(u8, u8)]| {
            let mut frame_body = vec![8, 0, 16, 0, 16, 3];
            for (id, hv) in (1..).zip(sampling) {
                frame_body.extend_from_slice(&[id, hv, 0]);
            }
            let mut frame = read_frame(&frame_body).unwrap();
            let table = |class| Table::new(class, &counts(&[(1, 1)]), &[0]).ok();
            let dc = [table(Class::Dc), None, None, None];
            let ac = [table(Class::Ac), None, None, None];
            let mut body = vec![specs.len() as u8];
            for &(id, tables) in specs {
                body.extend_from_slice(&[id, tables]);
            }
            body.extend_from_slice(&[0, 63, 0]);
            match read_scan(&body, &mut frame, &[true; 4], &dc, &ac) {
                Ok(scan) => Ok(scan.components.len()),
                Err(Error::Malformed { reason, .. }) => Err(reason),
                Err(other) => panic!("{other:?}"),
            }
        };
        let all = [(1, 0x00), (2, 0x00), (3, 0x00)];
        assert_eq!(scan([0x11; 3], &all), Ok(3));
        assert_eq!(
            scan([0x11; 3], &[]),
            Err("scan has no or too many components")
        );
        let five = [(1, 0), (2, 0), (3, 0), (4, 0), (5, 0)];
        assert_eq!(
            scan([0x11; 3], &five),
            Err("scan has no or too many components")
        );
        for tables in [0x10, 0x01] {
            assert_eq!(
                scan([0x11; 3], &[(1, tables)]),
                Err("scan names a huffman table not defined")
            );
        }
        // Blocks an MCU: h × v of each component, at most 10 when the scan has several.
        assert_eq!(scan([0x22, 0x22, 0x12], &all), Ok(3));
        assert_eq!(
            scan([0x22, 0x22, 0x22], &all),
            Err("more than 10 blocks in an mcu")
        );
        // One component: one block an MCU, whatever its sampling factors.
        assert_eq!(scan([0x44, 0x11, 0x11], &[(1, 0x00)]), Ok(1));
    }

    #[test]
    fn a_block_of_63_steps_of_the_longest_kind_is_read_whole() {
        // DC: 0 = a difference of 4 bits. AC: 0 = end-of-block, and a 16-bit code for a
        // coefficient of 10 bits: 26 bits a step. A block of 63 such steps runs through both
        // loops of the walk, each of which must refill before any step that could run short.
        let dc = Table::new(Class::Dc, &counts(&[(1, 1)]), &[4]).unwrap();
        let ac = Table::new(Class::Ac, &counts(&[(1, 1), (16, 1)]), &[0x00, 0x0A]).unwrap();
        let short_block = "0".to_owned() + "0000" + "0";
        let long_block =
            "0".to_owned() + "0000" + &("1".to_owned() + &"0".repeat(24) + "1").repeat(63);
        // Short blocks first, 6 bits each, so the long steps fall at every place in the buffer.
        for before in 0..8 {
            let bits = short_block.repeat(before) + &long_block + &short_block;
            let data = pack(&bits);
            let mut reader = Bits::new(&data, 0);
            for _ in 0..before + 2 {
                reader.block(&dc, &ac).unwrap();
            }
            assert_eq!(
                reader.count as usize,
                8 * data.len() - bits.len(),
                "{before}"
            );
        }
    }

    #[test]
    fn two_steps_of_the_longest_kind_are_read_from_one_refill() {
        // DC: 0 = a difference of 4 bits. AC: 0 = end-of-block, and a 16-bit code for a
        // coefficient of 10 bits: 26 bits a step, the most one can take.
        let dc = Table::new(Class::Dc, &counts(&[(1, 1)]), &[4]).unwrap();
        let ac = Table::new(Class::Ac, &counts(&[(1, 1), (16, 1)]), &[0x00, 0x0A]).unwrap();
        // The first refill loads 56 bits; the DC step leaves 51, too few for two such steps,
        // so the loop must refill before them (a threshold of 50 would not, and the second
        // step would find the data "ended" with bytes still unread).
        let long = "1000000000000000".to_owned() + "0000000001";
        let bits = "0".to_owned() + "0000" + &long + &long + "0";
        let data = pack(&bits);
        let mut reader = Bits::new(&data, 0);
        reader.block(&dc, &ac).unwrap();
        assert_eq!(reader.count as usize, 8 * data.len() - bits.len());
    }

    #[test]
    fn short_ac_codes_are_paired_unless_the_first_ends_the_block() {
        // Codes: 0 = one coefficient of 1 bit, 10 = end-of-block, 110 = sixteen zeros.
        let table = Table::new(
            Class::Ac,
            &counts(&[(1, 1), (2, 1), (3, 1)]),
            &[0x01, 0x00, 0xF0],
        )
        .unwrap();
        let fast = |prefix: usize, bits: u32| table.fast[prefix << (FAST_BITS - bits)];
        let step = |skip: u16, advance: u16| u32::from(skip | advance << ADVANCE_SHIFT);
        // 0 x | 10: a coefficient (2 bits, +1), then end-of-block (2 bits, +128).
        assert_eq!(fast(0b0010, 4), step(2, 1) | step(4, 1 + 128) << 16);
        // 0 x | 110: a coefficient, then sixteen zeros.
        assert_eq!(fast(0b01110, 5), step(2, 1) | step(5, 1 + 16) << 16);
        // 10: end-of-block is never the first of a pair.
        assert_eq!(fast(0b1000, 4), step(2, 128));
    }
}
