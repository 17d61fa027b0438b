//! Byte-level checks run on PDF syntax before lopdf parses it: the `/Encrypt` name anywhere in
//! the file, and the *weight* (objects, dictionary entries and string bytes) that parsing a span
//! of object syntax would allocate.
//!
//! lopdf parses a whole object before any hook sees it, so a single `[0 0 0 …]` can allocate
//! 120 bytes for every 2 bytes of input. The weigher below follows lopdf 0.47's grammar for
//! direct objects (`parser/mod.rs`) closely enough to be an upper bound: wherever lopdf accepts
//! an object the weigher ends at the same byte and counts at least as much, and wherever lopdf
//! fails it counts at least what lopdf built before failing.

use std::collections::HashMap;
use std::time::Instant;

use lopdf::{Dictionary, Object, Stream};

/// One unit of weight per object (one `lopdf::Object`, 120 bytes), per dictionary entry, and
/// per this many bytes of string or name data.
const BYTES_PER_UNIT: u64 = 128;

/// lopdf's nesting cap (`reader::MAX_NESTING_DEPTH`): deeper objects fail to parse.
const MAX_DEPTH: usize = 100;

/// Why a scan stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The weight budget ran out.
    Weight,
    /// The deadline passed.
    Time,
    /// An object stream inflates past the per-stream cap.
    Stream,
    /// Object streams inflate past the total cap.
    Inflated,
    /// An object stream uses a filter other than FlateDecode, so its content cannot be
    /// bounded before lopdf decodes it.
    Filter,
}

/// The bounds a whole-file scan enforces.
pub(crate) struct FileBounds {
    pub(crate) weight: u64,
    pub(crate) stream_bytes: usize,
    pub(crate) inflated_bytes: usize,
    pub(crate) deadline: Instant,
}

/// The syntax cannot be parsed here; lopdf fails too, after building at most what was counted.
struct Fail;

enum Halt {
    Fail,
    Stop(Stop),
}

impl From<Fail> for Halt {
    fn from(_: Fail) -> Self {
        Self::Fail
    }
}

fn is_white(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0 | 0x0c)
}

fn is_delimiter(c: u8) -> bool {
    b"()<>[]{}/%".contains(&c)
}

fn is_regular(c: u8) -> bool {
    !is_white(c) && !is_delimiter(c)
}

/// Whether the file names `/Encrypt` anywhere, `#`-escapes decoded as lopdf decodes them.
/// It may be a false alarm (the name inside a stream's data); it never misses the trailer's.
pub(crate) fn mentions_encrypt(bytes: &[u8]) -> bool {
    memchr::memchr_iter(b'/', bytes).any(|at| {
        let rest = bytes.get(at + 1..).unwrap_or_default();
        let run = rest.iter().take_while(|&&c| is_regular(c)).count();
        decode_name(&rest[..run]) == b"Encrypt"
    })
}

/// Counts weight against a budget and a deadline.
pub(crate) struct Weigher<'a> {
    bytes: &'a [u8],
    weight: u64,
    limit: u64,
    deadline: Instant,
    steps: u32,
    /// The last comment skipped, `start..end` with its end of line at `end`: a later `obj`
    /// inside the same comment reuses it instead of scanning the line again.
    comment: (usize, usize),
}

impl<'a> Weigher<'a> {
    pub(crate) fn new(bytes: &'a [u8], limit: u64, deadline: Instant) -> Self {
        Self {
            bytes,
            weight: 0,
            limit,
            deadline,
            steps: 0,
            comment: (0, 0),
        }
    }

    /// The weight counted so far.
    pub(crate) fn weight(&self) -> u64 {
        self.weight
    }

    fn add(&mut self, units: u64) -> Result<(), Halt> {
        self.weight = self.weight.saturating_add(units);
        if self.weight > self.limit {
            return Err(Halt::Stop(Stop::Weight));
        }
        self.steps = self.steps.wrapping_add(1);
        if self.steps.is_multiple_of(4096) && Instant::now() >= self.deadline {
            return Err(Halt::Stop(Stop::Time));
        }
        Ok(())
    }

    fn add_data(&mut self, bytes: usize) -> Result<(), Halt> {
        self.add(1 + bytes as u64 / BYTES_PER_UNIT)
    }

    fn at(&self, i: usize) -> Option<u8> {
        self.bytes.get(i).copied()
    }

    /// lopdf's `space`: white space and `%` comments.
    fn space(&mut self, mut i: usize) -> usize {
        loop {
            match self.at(i) {
                Some(c) if is_white(c) => i += 1,
                Some(b'%') => {
                    let (start, end) = self.comment;
                    if (start..end).contains(&i) {
                        i = end;
                    } else {
                        let rest = self.bytes.get(i..).unwrap_or_default();
                        let eol = memchr::memchr2(b'\r', b'\n', rest).unwrap_or(rest.len());
                        self.comment = (i, i + eol);
                        i += eol;
                    }
                }
                _ => return i,
            }
        }
    }

    fn digits(&self, mut i: usize) -> usize {
        while self.at(i).is_some_and(|c| c.is_ascii_digit()) {
            i += 1;
        }
        i
    }

    /// `digits space digits space R`, with lopdf's u32 and u16 ranges.
    fn reference(&mut self, i: usize) -> Option<usize> {
        let bytes = self.bytes;
        let fits = |from: usize, to: usize, max: u64| {
            std::str::from_utf8(&bytes[from..to])
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .is_some_and(|v| v <= max)
        };
        let number_end = self.digits(i);
        if !fits(i, number_end, u64::from(u32::MAX)) {
            return None;
        }
        let generation = self.space(number_end);
        let generation_end = self.digits(generation);
        if generation_end == generation || !fits(generation, generation_end, u64::from(u16::MAX)) {
            return None;
        }
        let r = self.space(generation_end);
        (self.at(r) == Some(b'R')).then_some(r + 1)
    }

    /// A real or an integer after its optional sign.
    fn number(&self, i: usize) -> Result<usize, Fail> {
        let int_end = self.digits(i);
        if self.at(int_end) == Some(b'.') {
            let frac = int_end + 1;
            let frac_end = self.digits(frac);
            if int_end > i || frac_end > frac {
                let mut end = frac_end;
                while self
                    .at(end)
                    .is_some_and(|c| c == b'-' || c.is_ascii_digit())
                {
                    end += 1;
                }
                return Ok(end);
            }
        }
        if int_end > i { Ok(int_end) } else { Err(Fail) }
    }

    fn name(&mut self, i: usize) -> Result<usize, Halt> {
        let mut end = i + 1;
        while let Some(c) = self.at(end) {
            if c == b'#' {
                let hex = |j: usize| self.at(j).is_some_and(|c| c.is_ascii_hexdigit());
                if hex(end + 1) && hex(end + 2) {
                    end += 3;
                    continue;
                }
                break;
            }
            if !is_regular(c) {
                break;
            }
            end += 1;
        }
        self.add_data(end - i)?;
        Ok(end)
    }

    /// Charged as it goes, so strings that overlap (an `obj` inside a string inside a string)
    /// run the budget out instead of costing quadratic time.
    fn literal_string(&mut self, i: usize) -> Result<usize, Halt> {
        self.add(1)?;
        let mut charged_to = i;
        let mut depth = 0usize;
        let mut end = i;
        loop {
            if end - charged_to >= BYTES_PER_UNIT as usize {
                self.add(1)?;
                charged_to += BYTES_PER_UNIT as usize;
            }
            match self.at(end) {
                None => return Err(Halt::Fail),
                Some(b'\\') => end += 2,
                Some(b'(') => {
                    depth += 1;
                    end += 1;
                }
                Some(b')') => {
                    depth -= 1;
                    end += 1;
                    if depth == 0 {
                        return Ok(end);
                    }
                }
                Some(_) => end += 1,
            }
        }
    }

    /// Charged as it goes, like a literal string.
    fn hex_string(&mut self, i: usize) -> Result<usize, Halt> {
        self.add(1)?;
        let mut end = i + 1;
        while let Some(c) = self.at(end) {
            if c == b'>' {
                return Ok(end + 1);
            }
            if !(is_white(c) || c.is_ascii_hexdigit()) {
                break;
            }
            end += 1;
            if (end - i).is_multiple_of(2 * BYTES_PER_UNIT as usize) {
                self.add(1)?;
            }
        }
        Err(Halt::Fail)
    }

    /// Checks the deadline now, whatever the step count.
    fn check_time(&self) -> Result<(), Stop> {
        if Instant::now() >= self.deadline {
            return Err(Stop::Time);
        }
        Ok(())
    }

    /// lopdf's `_direct_objects`: one object, no trailing space.
    fn object(&mut self, i: usize, depth: usize) -> Result<usize, Halt> {
        let c = self.at(i).ok_or(Fail)?;
        let end = match c {
            b'n' | b't' | b'f' => {
                let word: &[u8] = match c {
                    b'n' => b"null",
                    b't' => b"true",
                    _ => b"false",
                };
                if !self.bytes[i..].starts_with(word) {
                    return Err(Halt::Fail);
                }
                i + word.len()
            }
            b'0'..=b'9' => match self.reference(i) {
                Some(end) => end,
                None => self.number(i)?,
            },
            b'+' | b'-' => self.number(i + 1)?,
            b'.' => self.number(i)?,
            b'/' => return self.name(i),
            b'(' => return self.literal_string(i),
            b'<' if self.at(i + 1) == Some(b'<') => return self.dictionary(i, depth),
            b'<' => return self.hex_string(i),
            b'[' => return self.array(i, depth),
            _ => return Err(Halt::Fail),
        };
        self.add(1)?;
        Ok(end)
    }

    /// lopdf's `_direct_object`: the depth check, one object and the space after it.
    fn direct_object(&mut self, i: usize, depth: usize) -> Result<usize, Halt> {
        if depth == 0 {
            return Err(Halt::Fail);
        }
        let end = self.object(i, depth - 1)?;
        Ok(self.space(end))
    }

    fn array(&mut self, i: usize, depth: usize) -> Result<usize, Halt> {
        self.add(1)?;
        let mut at = self.space(i + 1);
        loop {
            if self.at(at) == Some(b']') {
                return Ok(at + 1);
            }
            at = self.direct_object(at, depth)?;
        }
    }

    fn dictionary(&mut self, i: usize, depth: usize) -> Result<usize, Halt> {
        self.add(1)?;
        let mut at = self.space(i + 2);
        loop {
            match self.at(at) {
                Some(b'>') if self.at(at + 1) == Some(b'>') => return Ok(at + 2),
                Some(b'/') => {
                    let key_end = self.name(at)?;
                    let value = self.space(key_end);
                    at = self.direct_object(value, depth)?;
                }
                _ => return Err(Halt::Fail),
            }
        }
    }

    /// Weighs the object lopdf would parse at `i` (after white space and comments); a stream's
    /// data is not object syntax and is not weighed. Returns where a dictionary that parsed
    /// starts and ends.
    fn weigh_at(&mut self, i: usize) -> Result<Option<(usize, usize)>, Stop> {
        let start = self.space(i);
        let dictionary = self.bytes[start.min(self.bytes.len())..].starts_with(b"<<");
        // lopdf parses an indirect object with `_direct_objects(MAX)` and an object-stream
        // member with `_direct_object(MAX)`, one level shallower: weigh the deeper of the two.
        let result = if dictionary {
            self.dictionary(start, MAX_DEPTH)
        } else {
            self.object(start, MAX_DEPTH)
        };
        match result {
            Ok(end) => Ok(dictionary.then_some((start, end))),
            Err(Halt::Fail) => Ok(None),
            Err(Halt::Stop(stop)) => Err(stop),
        }
    }

    /// lopdf's `stream_keyword` after a dictionary ending at `i`: where the data starts.
    fn stream_data(&mut self, i: usize) -> Option<usize> {
        let at = self.space(i);
        let rest = self.bytes.get(at..)?.strip_prefix(b"stream")?;
        let blanks = rest
            .iter()
            .take_while(|&&c| c == b' ' || c == b'\t')
            .count();
        let rest = &rest[blanks..];
        let eol = if rest.starts_with(b"\r\n") {
            2
        } else if rest.starts_with(b"\r") || rest.starts_with(b"\n") {
            1
        } else {
            return None;
        };
        Some(self.bytes.len() - rest.len() + eol)
    }

    /// Runs `walk` over a span that was weighed already: what it counts again is not added,
    /// and the weight limit cannot stop it (it could if the span were counted twice, and a
    /// stopped re-walk would miss what follows). The deadline still applies.
    fn rewalk<T>(&mut self, walk: impl FnOnce(&mut Self) -> T) -> T {
        let (weight, limit) = (self.weight, self.limit);
        self.limit = u64::MAX;
        let result = walk(self);
        (self.weight, self.limit) = (weight, limit);
        result
    }

    /// The top-level entries of the dictionary at `start` (already weighed): decoded key and
    /// the value's span. A later key replaces an earlier one, as in lopdf.
    fn entries(&mut self, start: usize) -> Result<Vec<(Vec<u8>, usize, usize)>, Stop> {
        self.rewalk(|w| {
            let mut entries: Vec<(Vec<u8>, usize, usize)> = Vec::new();
            let mut at = w.space(start + 2);
            while w.at(at) == Some(b'/') {
                let spans = w.name(at).and_then(|key_end| {
                    let value = w.space(key_end);
                    Ok((key_end, value, w.object(value, MAX_DEPTH)?))
                });
                let (key_end, value, value_end) = match spans {
                    Ok(spans) => spans,
                    Err(Halt::Fail) => break,
                    Err(Halt::Stop(stop)) => return Err(stop),
                };
                let key = decode_name(&w.bytes[at + 1..key_end]);
                entries.retain(|(k, _, _)| *k != key);
                entries.push((key, value, value_end));
                at = w.space(value_end);
            }
            Ok(entries)
        })
    }

    /// Builds the lopdf value of a small, already weighed span: enough for `/Filter` and
    /// `/DecodeParms`. Strings are not needed and give `None`.
    fn build(&mut self, start: usize, end: usize) -> Option<Object> {
        let text = &self.bytes[start..end];
        match text.first()? {
            b'/' => Some(Object::Name(decode_name(&text[1..]))),
            b'n' => Some(Object::Null),
            b't' => Some(Object::Boolean(true)),
            b'f' => Some(Object::Boolean(false)),
            b'[' => {
                let mut items = Vec::new();
                let mut at = self.space(start + 1);
                while self.at(at) != Some(b']') {
                    let item_end = self.object(at, MAX_DEPTH).ok()?;
                    items.push(self.build(at, item_end)?);
                    at = self.space(item_end);
                }
                Some(Object::Array(items))
            }
            b'<' => {
                let mut dict = Dictionary::new();
                for (key, from, to) in self.entries(start).ok()? {
                    dict.set(key, self.build(from, to)?);
                }
                Some(Object::Dictionary(dict))
            }
            _ => {
                let text = std::str::from_utf8(text).ok()?;
                if let Ok(i) = text.parse::<i64>() {
                    Some(Object::Integer(i))
                } else if let Ok(f) = text.parse::<f32>() {
                    Some(Object::Real(f))
                } else {
                    let mut parts = text.trim_end_matches('R').split_whitespace();
                    let number = parts.next()?.parse().ok()?;
                    let generation = parts.next()?.parse().ok()?;
                    Some(Object::Reference((number, generation)))
                }
            }
        }
    }
}

/// A name's bytes with `#xx` escapes decoded; lopdf ends a name at any other `#`.
fn decode_name(raw: &[u8]) -> Vec<u8> {
    let mut decoded = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let hex = raw
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (raw[i], hex) {
            (b'#', Some(byte)) => {
                decoded.push(byte);
                i += 3;
            }
            (b'#', None) => break,
            (c, _) => {
                decoded.push(c);
                i += 1;
            }
        }
    }
    decoded
}

/// The weight lopdf may build while loading `bytes` as a file: every object after an `obj`
/// keyword and every dictionary after `trailer`, wherever they appear (inside stream data and
/// strings too), since a cross-reference offset may point anywhere; and, twice, the members of
/// every object stream, since lopdf parses a stream's indirect `/Length` out of its object
/// stream before any filter sees that object stream, keeps the result for the whole load, and
/// parses the object stream again when it reaches it. Object streams are inflated here to be
/// weighed, within the per-stream and total caps.
pub(crate) fn file_weight(bytes: &[u8], bounds: &FileBounds) -> Result<u64, Stop> {
    let mut w = Weigher::new(bytes, bounds.weight, bounds.deadline);
    let mut inflated = 0usize;
    for (n, at) in memchr::memmem::find_iter(bytes, b"obj").enumerate() {
        if n % 1024 == 0 {
            w.check_time()?;
        }
        let Some((start, end)) = w.weigh_at(at + 3)? else {
            continue;
        };
        let Some(data) = w.stream_data(end) else {
            continue;
        };
        let Some((content, first)) = object_stream_content(&mut w, start, data, bounds)? else {
            continue;
        };
        inflated = inflated.saturating_add(content.len());
        if inflated > bounds.inflated_bytes {
            return Err(Stop::Inflated);
        }
        let left = bounds.weight.saturating_sub(w.weight());
        let members = object_stream_weight(&content, first, left / 2, bounds.deadline)?;
        w.add(members.saturating_mul(2)).map_err(|h| match h {
            Halt::Stop(s) => s,
            Halt::Fail => Stop::Weight,
        })?;
    }
    for at in memchr::memmem::find_iter(bytes, b"trailer") {
        w.weigh_at(at + 7)?;
    }
    Ok(w.weight())
}

/// If the stream whose dictionary starts at `start` and whose data starts at `data` is an
/// object stream, its decoded content (a superset of what lopdf decodes) and `/First`.
fn object_stream_content(
    w: &mut Weigher<'_>,
    start: usize,
    data: usize,
    bounds: &FileBounds,
) -> Result<Option<(Vec<u8>, usize)>, Stop> {
    let entries = w.entries(start)?;
    let value = |key: &[u8]| {
        entries
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|&(_, a, b)| (a, b))
    };
    // lopdf's `has_type`: a direct name.
    let is_object_stream = value(b"Type")
        .is_some_and(|(a, b)| w.bytes[a] == b'/' && decode_name(&w.bytes[a + 1..b]) == b"ObjStm");
    if !is_object_stream {
        return Ok(None);
    }
    // lopdf needs a direct integer; without one it parses no member.
    let Some(first) = value(b"First").and_then(|(a, b)| {
        std::str::from_utf8(&w.bytes[a..b])
            .ok()?
            .parse::<usize>()
            .ok()
    }) else {
        return Ok(None);
    };
    let mut dict = Dictionary::new();
    for key in [&b"Filter"[..], b"DecodeParms"] {
        if let Some((a, b)) = value(key) {
            dict.set(key, w.rewalk(|w| w.build(a, b)).ok_or(Stop::Filter)?);
        }
    }
    let rest = &w.bytes[data.min(w.bytes.len())..];
    let flate_only = match dict.get(b"Filter") {
        Err(_) => false,
        Ok(Object::Name(n)) => n == b"FlateDecode",
        Ok(Object::Array(items)) => items
            .iter()
            .all(|i| matches!(i, Object::Name(n) if n == b"FlateDecode")),
        Ok(_) => false,
    };
    // Whatever `/Length` says, lopdf's data is a prefix of the rest of the file, and inflating
    // a longer input gives at least as much: zlib stops at the end of its stream. Unfiltered
    // data is bounded by the per-stream cap instead.
    let decoded = if !dict.has(b"Filter") {
        Ok(rest[..rest.len().min(bounds.stream_bytes)].to_vec())
    } else if !flate_only {
        return Err(Stop::Filter);
    } else if dict.has(b"DecodeParms") || !matches!(dict.get(b"Filter"), Ok(Object::Name(_))) {
        // Predictors and chains go through lopdf's own decoder, on a copy.
        Stream::new(dict, rest.to_vec()).get_plain_content_with_limit(bounds.stream_bytes)
    } else {
        return inflate(rest, bounds.stream_bytes).map(|c| Some((c, first)));
    };
    match decoded {
        Ok(content) => Ok(Some((content, first))),
        Err(lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded { .. })) => {
            Err(Stop::Stream)
        }
        // lopdf fails on a prefix of the same bytes too, and builds nothing from it.
        Err(_) => Ok(None),
    }
}

/// lopdf's FlateDecode without a copy of the input: zlib, keeping what decoded before an
/// error, and raw deflate when zlib gave nothing.
fn inflate(input: &[u8], cap: usize) -> Result<Vec<u8>, Stop> {
    use std::io::Read;
    let limit = (cap as u64).saturating_add(1);
    let mut out = Vec::new();
    let zlib = flate2::read::ZlibDecoder::new(input)
        .take(limit)
        .read_to_end(&mut out);
    if zlib.is_err() && out.is_empty() && input.len() > 2 {
        let _ = flate2::read::DeflateDecoder::new(&input[2..])
            .take(limit)
            .read_to_end(&mut out);
    }
    if out.len() > cap {
        return Err(Stop::Stream);
    }
    Ok(out)
}

/// The weight lopdf builds when it parses an object stream's decoded `content`: the object at
/// every offset its header lists, once per listing (lopdf parses repeated offsets again).
pub(crate) fn object_stream_weight(
    content: &[u8],
    first: usize,
    limit: u64,
    deadline: Instant,
) -> Result<u64, Stop> {
    // The header as lopdf reads it (`object_stream.rs`): UTF-8, lines split on CR or LF,
    // comments cut, numbers that are not u32 dropped.
    let Some(header) = content
        .get(..first)
        .and_then(|h| std::str::from_utf8(h).ok())
    else {
        return Ok(0);
    };
    let numbers: Vec<Option<u32>> = header
        .split(['\r', '\n'])
        .flat_map(|line| {
            line.split('%')
                .next()
                .unwrap_or_default()
                .split_whitespace()
        })
        .map(|n| n.parse::<u32>().ok())
        .collect();
    let mut w = Weigher::new(content, limit, deadline);
    let mut seen: HashMap<usize, u64> = HashMap::new();
    for pair in numbers.chunks_exact(2) {
        // An offset may point into the middle of a long run that each parse skips again.
        w.check_time()?;
        let (Some(_), Some(offset)) = (pair[0], pair[1]) else {
            continue;
        };
        let at = first.saturating_add(offset as usize);
        if at >= content.len() {
            continue;
        }
        if let Some(&again) = seen.get(&at) {
            w.add(again).map_err(|h| match h {
                Halt::Stop(s) => s,
                Halt::Fail => Stop::Weight,
            })?;
            continue;
        }
        let before = w.weight();
        w.weigh_at(at)?;
        seen.insert(at, w.weight() - before);
    }
    Ok(w.weight())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn weigh(bytes: &[u8]) -> u64 {
        let far = Instant::now() + Duration::from_secs(60);
        let mut w = Weigher::new(bytes, u64::MAX, far);
        w.weigh_at(0).unwrap();
        let _ = FileBounds {
            weight: 0,
            stream_bytes: 0,
            inflated_bytes: 0,
            deadline: far,
        };
        w.weight()
    }

    #[test]
    fn weight_counts_objects_entries_and_data() {
        assert_eq!(weigh(b"0"), 1);
        assert_eq!(weigh(b"[0 0 0]"), 4);
        assert_eq!(weigh(b"[1-1-1-1]"), 5, "numbers may touch");
        assert_eq!(weigh(b"[nullnull()()]"), 5);
        assert_eq!(weigh(b"<< /A 1 /B [2 3 R] >>"), 1 + (1 + 1) + (1 + 1 + 1));
        assert_eq!(weigh(b"[1 0 R 2 0 R]"), 3);
        let long = [b"(".as_slice(), &[b'x'; 1000], b")"].concat();
        assert_eq!(weigh(&long), 1 + 1002 / 128);
        // A failed parse still counts what lopdf built before failing.
        assert_eq!(weigh(b"[0 0 0 0"), 5);
    }

    fn far() -> Instant {
        Instant::now() + Duration::from_secs(60)
    }

    #[test]
    fn a_weight_exactly_at_the_limit_passes_and_one_unit_more_stops() {
        let mut w = Weigher::new(b"", 10, far());
        assert!(w.add(10).is_ok());
        assert!(matches!(w.add(1), Err(Halt::Stop(Stop::Weight))));
    }

    #[test]
    fn the_clock_is_read_every_4096_steps_and_stops_the_walk_only_past_the_deadline() {
        let mut w = Weigher::new(b"", u64::MAX, far());
        for step in 1..=3 * 4096 {
            assert!(w.add(0).is_ok(), "step {step} stopped before the deadline");
        }
        let mut w = Weigher::new(b"", u64::MAX, Instant::now());
        for step in 1..4096 {
            assert!(w.add(0).is_ok(), "step {step} read the clock");
        }
        assert!(matches!(w.add(0), Err(Halt::Stop(Stop::Time))));
    }

    #[test]
    fn data_weighs_one_unit_and_one_more_per_128_bytes() {
        let mut w = Weigher::new(b"", u64::MAX, far());
        assert!(w.add_data(0).is_ok());
        assert_eq!(w.weight(), 1);
        assert!(w.add_data(3 * 128 + 5).is_ok());
        assert_eq!(w.weight(), 1 + 4);
    }

    #[test]
    fn a_reference_needs_a_generation_within_lopdfs_u16() {
        let reference = |text: &[u8]| Weigher::new(text, u64::MAX, far()).reference(0);
        assert_eq!(reference(b"1 65535 R"), Some(9));
        assert_eq!(reference(b"1 65536 R"), None);
        assert_eq!(reference(b"1 R"), None);
        assert_eq!(reference(b"4294967296 0 R"), None);
    }

    #[test]
    fn a_number_with_a_point_needs_a_digit_on_one_side() {
        let number = |text: &[u8]| Weigher::new(text, u64::MAX, far()).number(0).ok();
        assert_eq!(number(b"12"), Some(2));
        assert_eq!(number(b"1."), Some(2));
        assert_eq!(number(b".5"), Some(2));
        assert_eq!(
            number(b"1.5-3"),
            Some(5),
            "lopdf reads on through '-' and digits"
        );
        assert_eq!(number(b"."), None);
        assert_eq!(number(b""), None);
    }

    #[test]
    fn a_name_takes_a_hash_escape_only_with_two_hex_digits() {
        let name = |text: &[u8]| Weigher::new(text, u64::MAX, far()).name(0).ok();
        assert_eq!(name(b"/x#41 "), Some(5), "#41 is one escaped byte");
        assert_eq!(
            name(b"/x#4 1"),
            Some(2),
            "one hex digit: the name ends at the #"
        );
        assert_eq!(name(b"/x#g1"), Some(2), "not a hex digit first");
        assert_eq!(name(b"/x#"), Some(2), "nothing after the #");
    }

    #[test]
    fn a_hex_string_weighs_one_unit_and_one_more_per_256_digits() {
        let hex = |digits: usize| [b"<".as_slice(), &b"4".repeat(digits), b">"].concat();
        assert_eq!(weigh(&hex(2000)), 1 + 2000 / 256);
        // Counted from the string's own start, not from the start of the text: inside an
        // array, 254 digits stay one unit short of a second.
        let in_array = |digits: usize| [b"[".as_slice(), &hex(digits), b"]"].concat();
        assert_eq!(weigh(&in_array(254)), 1 + 1);
        assert_eq!(weigh(&in_array(255)), 1 + 2);
    }

    #[test]
    fn a_passed_deadline_stops_the_file_and_object_stream_walks_at_once() {
        let past = Instant::now();
        let bounds = FileBounds {
            weight: u64::MAX,
            stream_bytes: usize::MAX,
            inflated_bytes: usize::MAX,
            deadline: past,
        };
        // One `obj` only (an `endobj` would be a second): the clock is read before the first.
        assert!(matches!(
            file_weight(b"1 0 obj 0", &bounds),
            Err(Stop::Time)
        ));
        assert!(matches!(
            object_stream_weight(b"1 0 0", 4, u64::MAX, past),
            Err(Stop::Time)
        ));
        // The same walks with time left count the object.
        let bounds = FileBounds {
            deadline: far(),
            ..bounds
        };
        assert_eq!(file_weight(b"1 0 obj 0", &bounds).ok(), Some(1));
        assert_eq!(
            object_stream_weight(b"1 0 0", 4, u64::MAX, far()).ok(),
            Some(1)
        );
    }

    #[test]
    fn nesting_is_followed_as_deep_as_lopdf_goes() {
        // lopdf parses an indirect object 100 arrays deep, elements of the innermost included.
        let deep = |levels: usize| {
            [
                "[".repeat(levels).as_bytes(),
                "0 ".repeat(1000).as_bytes(),
                "]".repeat(levels).as_bytes(),
            ]
            .concat()
        };
        assert_eq!(weigh(&deep(100)), 100 + 1000);
        // One level more fails in lopdf at the first element; the weigher stops there too.
        assert_eq!(weigh(&deep(101)), 101);
    }

    /// What lopdf itself builds for `text` as object 4 of a small file, in the same units.
    fn lopdf_weight(text: &[u8]) -> Option<u64> {
        let mut pdf = b"%PDF-1.7\n".to_vec();
        let at = pdf.len();
        pdf.extend_from_slice(b"4 0 obj\n");
        pdf.extend_from_slice(text);
        pdf.extend_from_slice(b"\nendobj\n");
        let xref = pdf.len();
        pdf.extend_from_slice(
            format!("xref\n0 5\n0000000000 65535 f \n0000000000 65535 f \n0000000000 65535 f \n0000000000 65535 f \n{at:010} 00000 n \ntrailer\n<< /Size 5 >>\nstartxref\n{xref}\n%%EOF\n").as_bytes(),
        );
        let doc = lopdf::Document::load_mem(&pdf).ok()?;
        doc.objects.get(&(4, 0)).map(crate::pdf::weight)
    }

    fn assert_bounds_lopdf(text: &[u8]) {
        if let Some(built) = lopdf_weight(text) {
            let counted = weigh(text);
            assert!(
                counted >= built,
                "{counted} < {built} for {:?}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn the_weight_is_never_below_what_lopdf_builds() {
        // The harness itself works: lopdf loads the object.
        assert_eq!(lopdf_weight(b"[0 0 0]"), Some(4));
        for text in [
            &b"[0 0 0]"[..],
            b"[1-1-1-1 .5.5 +3 -.2 1.2.3 0.00-4142502]",
            b"[nulltruefalse()()<>[][]<<>>/a/b#20c/#zz]",
            b"<< /A [1 0 R 2 0R 3 4 5 R] /B (a(b)c\\) \\(d) /C <41 42 4> >>",
            b"[% comment ]\n 1 2 %x\n R]",
            b"<< /Length 3 >>",
            b"[/Name#41#42 (\\101\\n\\\r\n) <0 1 2>]",
        ] {
            assert_bounds_lopdf(text);
        }
    }

    /// Valid objects with random spacing (none, blanks, comments): where lopdf succeeds, which
    /// is where a weight below its own would matter.
    fn object_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let sep = prop::sample::select(vec!["", " ", "\n", "%c\n", "  \r\n"]);
        let leaf = prop::sample::select(vec![
            "0", "-12", "+3", ".5", "1.25", "0.00-41", "null", "true", "false", "/a", "/", "/b#41",
            "()", "(x(y)z)", "(a\\)b)", "<>", "<4 1>", "1 0 R", "2 0R", "[]", "<<>>",
        ])
        .prop_map(str::to_owned);
        leaf.prop_recursive(4, 64, 8, move |inner| {
            prop_oneof![
                prop::collection::vec((inner.clone(), sep.clone()), 0..8).prop_map(|items| {
                    let body: String = items.into_iter().map(|(o, s)| o + s).collect();
                    format!("[{body}]")
                }),
                prop::collection::vec((inner, sep.clone()), 0..6).prop_map(|items| {
                    let body: String = items
                        .into_iter()
                        .enumerate()
                        .map(|(i, (o, s))| format!("/k{i}{s} {o}{s}"))
                        .collect();
                    format!("<<{body}>>")
                }),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]
        #[test]
        fn random_objects_weigh_at_least_what_lopdf_builds(text in object_text()) {
            assert_bounds_lopdf(text.as_bytes());
        }

        #[test]
        fn random_token_soup_weighs_at_least_what_lopdf_builds(
            tokens in proptest::collection::vec(proptest::sample::select(vec![
                "[", "]", "<<", ">>", "<", ">", "(", ")", "\\", "/", "/a", "#41", "0", "12", "-", "+",
                ".", "R", " ", "\n", "\r", "%", "null", "true", "f", "1 0 R", "(x)", "<4142>",
            ]), 0..60)
        ) {
            assert_bounds_lopdf(tokens.concat().as_bytes());
        }
    }

    #[test]
    fn encrypt_is_found_however_it_is_spelled() {
        assert!(mentions_encrypt(b"trailer << /Encrypt 5 0 R >>"));
        assert!(mentions_encrypt(b"<</Encr#79pt 5 0 R>>"));
        assert!(!mentions_encrypt(
            b"<< /EncryptMetadata false /Encrypted 1 >>"
        ));
    }

    #[test]
    fn repeated_object_stream_offsets_count_each_time() {
        let content = b"1 0 2 0 3 0 [0 0 0]";
        let far = Instant::now() + Duration::from_secs(60);
        assert_eq!(object_stream_weight(content, 12, u64::MAX, far), Ok(3 * 4));
        assert_eq!(
            object_stream_weight(content, 12, 11, far),
            Err(Stop::Weight)
        );
        // A repeat counts what its object weighed, not everything weighed before it.
        let content = b"1 0 2 4 3 4 [0] [0 0 0]";
        assert_eq!(
            object_stream_weight(content, 12, u64::MAX, far),
            Ok(2 + 4 + 4)
        );
    }

    fn unbounded() -> FileBounds {
        FileBounds {
            weight: u64::MAX,
            stream_bytes: usize::MAX,
            inflated_bytes: usize::MAX,
            deadline: far(),
        }
    }

    #[test]
    fn the_dictionary_after_trailer_is_weighed() {
        let file = b"%PDF-1.7\ntrailer\n<< /A [0 0 0] >>\n";
        // The dictionary, its one key, the array and its three numbers.
        assert_eq!(file_weight(file, &unbounded()), Ok(1 + 1 + 4));
    }

    const OBJECT_STREAM: &[u8] =
        b"1 0 obj << /Type /ObjStm /N 1 /First 4 >> stream\n2 0 [0 0 0]\nendstream endobj";

    #[test]
    fn object_stream_members_count_twice_even_with_no_weight_limit() {
        // The stream's dictionary (one unit and two per entry), counted once although it is
        // read again for its entries, then its one member, an array of three numbers, twice:
        // lopdf parses it for a `/Length` and again with the stream.
        assert_eq!(
            file_weight(OBJECT_STREAM, &unbounded()),
            Ok(1 + 3 * 2 + 2 * 4)
        );
    }

    #[test]
    fn reading_a_stream_dictionary_again_cannot_hide_its_members_from_the_limit() {
        let limited = |weight| {
            file_weight(
                OBJECT_STREAM,
                &FileBounds {
                    weight,
                    ..unbounded()
                },
            )
        };
        assert_eq!(limited(15), Ok(15));
        assert_eq!(limited(14), Err(Stop::Weight));
        // Exactly the dictionary's weight: reading its entries again must not stop the walk
        // short of the members (which would then go uncounted); the members stop it.
        assert_eq!(limited(7), Err(Stop::Weight));
        // Nor refuse a file whose dictionary, counted twice, would pass the limit alone.
        let small_member =
            b"1 0 obj << /Type /ObjStm /N 1 /First 4 >> stream\n2 0 0\nendstream endobj";
        let bounds = FileBounds {
            weight: 7 + 2,
            ..unbounded()
        };
        assert_eq!(file_weight(small_member, &bounds), Ok(7 + 2));
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(data).unwrap();
        z.finish().unwrap()
    }

    fn object_stream(dictionary: &str, data: &[u8]) -> Vec<u8> {
        [
            format!("1 0 obj << {dictionary} >> stream\n").as_bytes(),
            data,
            b"\nendstream endobj",
        ]
        .concat()
    }

    #[test]
    fn only_a_stream_whose_type_is_the_name_objstm_is_an_object_stream() {
        let members = b"2 0 [0 0 0]";
        let weight =
            |dictionary: &str| file_weight(&object_stream(dictionary, members), &unbounded());
        assert_eq!(weight("/Type /ObjStm /N 1 /First 4"), Ok(7 + 2 * 4));
        assert_eq!(weight("/Type /Obj#53tm /N 1 /First 4"), Ok(7 + 2 * 4));
        assert_eq!(weight("/Type /XObject /N 1 /First 4"), Ok(7));
        assert_eq!(weight("/Type (ObjStm) /N 1 /First 4"), Ok(7));
    }

    #[test]
    fn a_chain_of_filters_is_decoded_whole_before_members_are_weighed() {
        let twice = zlib(&zlib(b"2 0 [0 0 0]"));
        // The dictionary: one unit, two for each entry whose value is one object, and the
        // filter entry: its key, the array and the array's two names.
        let dictionary = 1 + 3 * 2 + (1 + 1 + 2);
        for filter in [
            "[/FlateDecode /FlateDecode]",
            "[/FlateDecode /FlateDecode] /DecodeParms [null null]",
        ] {
            let file = object_stream(
                &format!("/Type /ObjStm /N 1 /First 4 /Filter {filter}"),
                &twice,
            );
            let extra = if filter.contains("DecodeParms") {
                1 + 1 + 2
            } else {
                0
            };
            assert_eq!(
                file_weight(&file, &unbounded()),
                Ok(dictionary + extra + 2 * 4),
                "{filter}"
            );
        }
        // One FlateDecode on data deflated once, by the fast path.
        let once = object_stream(
            "/Type /ObjStm /N 1 /First 4 /Filter /FlateDecode",
            &zlib(b"2 0 [0 0 0]"),
        );
        assert_eq!(file_weight(&once, &unbounded()), Ok(1 + 4 * 2 + 2 * 4));
    }

    #[test]
    fn inflate_stops_one_byte_past_the_cap() {
        let data = vec![7u8; 1000];
        assert_eq!(inflate(&zlib(&data), 1000), Ok(data));
        assert_eq!(inflate(&zlib(&[7u8; 1000]), 999), Err(Stop::Stream));
    }

    #[test]
    fn inflate_keeps_what_decoded_before_an_error_once_and_falls_back_to_raw_deflate() {
        use std::io::Write;
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        // Stored blocks, cut in the middle: zlib fails after the first half decoded.
        let mut stored = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::none());
        stored.write_all(&data).unwrap();
        let stored = stored.finish().unwrap();
        let Ok(prefix) = inflate(&stored[..stored.len() / 2], usize::MAX) else {
            panic!("a cut stream keeps what decoded");
        };
        assert!(
            prefix.len() > 50_000 && data.starts_with(&prefix),
            "{}",
            prefix.len()
        );
        // A damaged zlib header gives nothing: the rest is read as raw deflate, as lopdf does.
        let mut bad_header = zlib(&data);
        bad_header[0] = 0;
        assert_eq!(inflate(&bad_header, usize::MAX), Ok(data));
        assert_eq!(inflate(&[0, 0], 10), Ok(Vec::new()));
    }

    #[test]
    fn a_dictionary_ends_only_at_two_closing_brackets() {
        let ends = |text: &[u8]| Weigher::new(text, u64::MAX, far()).weigh_at(0).ok();
        assert_eq!(ends(b"<< /A 1 >>"), Some(Some((0, 10))));
        // lopdf's `tag(">>")`: a lone `>` fails the dictionary, whatever follows it.
        assert_eq!(ends(b"<< /A 1 > >>"), Some(None));
        assert_eq!(ends(b"<< /A 1 >"), Some(None));
        assert_eq!(ends(b"<< /A <41> >"), Some(None));
    }

    #[test]
    fn spaces_and_tabs_may_follow_the_stream_keyword_before_its_end_of_line() {
        let data = |text: &[u8]| Weigher::new(text, u64::MAX, far()).stream_data(0);
        assert_eq!(data(b"stream\ndata"), Some(7));
        assert_eq!(data(b" stream \t \r\ndata"), Some(12));
        assert_eq!(data(b"stream\t\rdata"), Some(8));
        assert_eq!(
            data(b"stream \x0cdata"),
            None,
            "lopdf's space0 is blanks and tabs"
        );
        assert_eq!(data(b"streamdata"), None);
    }

    #[test]
    fn filter_values_are_built_as_lopdf_objects() {
        let built = |text: &[u8]| Weigher::new(text, u64::MAX, far()).build(0, text.len());
        assert!(built(b"null") == Some(Object::Null));
        assert!(built(b"true") == Some(Object::Boolean(true)));
        assert!(built(b"false") == Some(Object::Boolean(false)));
        assert!(built(b"/Flate#44ecode") == Some(Object::Name(b"FlateDecode".to_vec())));
        assert!(built(b"7") == Some(Object::Integer(7)));
        assert!(built(b"1 0 R") == Some(Object::Reference((1, 0))));
        assert!(
            built(b"[null /F true]")
                == Some(Object::Array(vec![
                    Object::Null,
                    Object::Name(b"F".to_vec()),
                    Object::Boolean(true),
                ]))
        );
        let mut parms = Dictionary::new();
        parms.set("Predictor", Object::Integer(12));
        parms.set("Early", Object::Boolean(false));
        assert!(built(b"<< /Predictor 12 /Early false >>") == Some(Object::Dictionary(parms)));
        assert!(built(b"(a string)").is_none(), "strings are not needed");
    }
}
