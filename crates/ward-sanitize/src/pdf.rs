//! PDF: loads the object graph within limits, removes metadata and active content, writes a
//! fresh file and checks that pages and media boxes survived.

use std::cell::Cell;
use std::collections::{BTreeSet, HashSet};

use lopdf::{Dictionary, Document, LoadOptions, Object, ObjectId};

use crate::error::{ActiveContent, Error, LimitRule, Result};
use crate::kind::FileKind;
use crate::limits::Limits;
use crate::report::{Category, Report};

const KIND: FileKind = FileKind::Pdf;

/// What to do with JavaScript, launch actions, embedded files and the like.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ActiveContentPolicy {
    /// Reject the file with [`Error::ActiveContent`] (the default).
    #[default]
    Reject,
    /// Remove the active content and accept the rest; the report counts what went under
    /// [`Category::PdfActiveContent`].
    Remove,
}

/// A loaded document with its page facts taken before any change.
struct Loaded {
    doc: Document,
    pages: Vec<Option<[f64; 4]>>,
}

/// Validates and cleans a PDF, returning the freshly written file.
pub(crate) fn clean(
    input: &[u8],
    limits: &Limits,
    policy: ActiveContentPolicy,
) -> Result<(Vec<u8>, Report)> {
    let Loaded { mut doc, pages } = load(input, limits)?;
    let mut report = Report::default();

    let found = scan_active(&doc);
    if let Some(&first) = found.iter().next() {
        match policy {
            ActiveContentPolicy::Reject => return Err(Error::ActiveContent(first)),
            ActiveContentPolicy::Remove => {
                remove_active(&mut doc, &mut report);
                doc.prune_objects();
                if let Some(&left) = scan_active(&doc).iter().next() {
                    return Err(Error::ActiveContent(left));
                }
            }
        }
    }
    remove_metadata(&mut doc, &mut report);
    doc.prune_objects();

    let mut out = Vec::with_capacity(input.len());
    doc.save_to(&mut out).map_err(|e| Error::Encode {
        kind: KIND,
        source: Box::new(e),
    })?;

    // Read the written file back: the same pages with the same media boxes, or it is our fault.
    let written = load(&out, limits).map_err(|e| Error::Encode {
        kind: KIND,
        source: Box::new(e),
    })?;
    if written.pages != pages {
        return Err(Error::Encode {
            kind: KIND,
            source: "cleaned pdf lost pages or media boxes".into(),
        });
    }
    Ok((out, report))
}

/// Loads within limits: decompression bounded per stream, encryption refused, object and page
/// counts checked.
fn load(input: &[u8], limits: &Limits) -> Result<Loaded> {
    let options = LoadOptions {
        max_decompressed_size: Some(limits.max_pdf_stream_bytes()),
        filter: Some(count_object),
        ..LoadOptions::default()
    };
    OBJECT_BUDGET.with(|b| {
        b.set(Budget {
            left: limits.max_pdf_objects(),
            exceeded: false,
        })
    });
    let loaded = Document::load_mem_with_options(input, options);
    if OBJECT_BUDGET.with(|b| b.get().exceeded) {
        return Err(Error::Limit(LimitRule::PdfObjects {
            limit: limits.max_pdf_objects(),
        }));
    }
    let doc = match loaded {
        Ok(doc) => doc,
        Err(
            lopdf::Error::Decryption(_)
            | lopdf::Error::InvalidPassword
            | lopdf::Error::AlreadyEncrypted
            | lopdf::Error::UnsupportedSecurityHandler(_),
        ) => return Err(Error::Encrypted),
        Err(lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded { .. })) => {
            return Err(Error::Limit(LimitRule::PdfStream {
                limit: limits.max_pdf_stream_bytes(),
            }));
        }
        Err(e) => return Err(Error::decoder(KIND, "document does not load", e)),
    };
    if doc.was_encrypted() || doc.trailer.has(b"Encrypt") {
        return Err(Error::Encrypted);
    }
    if doc.objects.len() > limits.max_pdf_objects() {
        return Err(Error::Limit(LimitRule::PdfObjects {
            limit: limits.max_pdf_objects(),
        }));
    }
    if doc.catalog().is_err() {
        return Err(Error::malformed(KIND, "no document catalog"));
    }
    let page_ids = doc.get_pages();
    if page_ids.is_empty() || page_ids.len() > limits.max_pdf_pages() {
        return Err(Error::Limit(LimitRule::PdfPages {
            pages: page_ids.len(),
            limit: limits.max_pdf_pages(),
        }));
    }
    let pages = page_ids.values().map(|&id| media_box(&doc, id)).collect();
    Ok(Loaded { doc, pages })
}

/// Objects the current load may still keep, so the object cap holds while loading (objects
/// unpacked from object streams included), not only afterwards. Loading is single-threaded
/// (lopdf's `rayon` feature is off), so a thread-local is exact.
#[derive(Clone, Copy)]
struct Budget {
    left: usize,
    exceeded: bool,
}

thread_local! {
    static OBJECT_BUDGET: Cell<Budget> = const { Cell::new(Budget { left: 0, exceeded: false }) };
}

/// lopdf's load filter: keeps objects while the budget lasts, then drops them and flags it.
fn count_object(id: ObjectId, object: &mut Object) -> Option<(ObjectId, Object)> {
    OBJECT_BUDGET.with(|b| {
        let mut budget = b.get();
        if budget.left == 0 {
            budget.exceeded = true;
            b.set(budget);
            return None;
        }
        budget.left -= 1;
        b.set(budget);
        // lopdf keeps its own `object` for top-level objects and uses the returned value only
        // for members of object streams, which are never streams: so streams, the only large
        // objects, are not copied.
        match object {
            Object::Stream(_) => Some((id, Object::Null)),
            other => Some((id, other.clone())),
        }
    })
}

/// The page's media box, inherited from ancestors when the page has none.
fn media_box(doc: &Document, page: ObjectId) -> Option<[f64; 4]> {
    let mut id = page;
    let mut seen = HashSet::new();
    while seen.insert(id) {
        let dict = doc.get_dictionary(id).ok()?;
        if let Ok(b) = dict.get(b"MediaBox") {
            let b = resolve(doc, b);
            if let Object::Array(items) = b {
                let mut r = [0.0; 4];
                for (slot, item) in r.iter_mut().zip(items) {
                    *slot = match resolve(doc, item) {
                        Object::Integer(i) => *i as f64,
                        Object::Real(f) => f64::from(*f),
                        _ => return None,
                    };
                }
                return (items.len() == 4).then_some(r);
            }
            return None;
        }
        match dict.get(b"Parent") {
            Ok(Object::Reference(parent)) => id = *parent,
            _ => return None,
        }
    }
    None
}

fn resolve<'a>(doc: &'a Document, object: &'a Object) -> &'a Object {
    match object {
        Object::Reference(id) => doc.get_object(*id).unwrap_or(&Object::Null),
        other => other,
    }
}

/// Calls `f` on every dictionary (stream dictionaries included) of every object and the
/// trailer, however deeply nested in direct arrays and dictionaries.
fn for_each_dict(doc: &Document, f: &mut impl FnMut(&Dictionary)) {
    fn walk(object: &Object, f: &mut impl FnMut(&Dictionary)) {
        match object {
            Object::Dictionary(d) => walk_dict(d, f),
            Object::Stream(s) => walk_dict(&s.dict, f),
            Object::Array(items) => items.iter().for_each(|i| walk(i, f)),
            _ => {}
        }
    }
    fn walk_dict(d: &Dictionary, f: &mut impl FnMut(&Dictionary)) {
        f(d);
        d.iter().for_each(|(_, v)| walk(v, f));
    }
    walk_dict(&doc.trailer, f);
    doc.objects.values().for_each(|o| walk(o, f));
}

/// Like [`for_each_dict`], mutably.
fn for_each_dict_mut(doc: &mut Document, f: &mut impl FnMut(&mut Dictionary)) {
    fn walk(object: &mut Object, f: &mut impl FnMut(&mut Dictionary)) {
        match object {
            Object::Dictionary(d) => walk_dict(d, f),
            Object::Stream(s) => walk_dict(&mut s.dict, f),
            Object::Array(items) => items.iter_mut().for_each(|i| walk(i, f)),
            _ => {}
        }
    }
    fn walk_dict(d: &mut Dictionary, f: &mut impl FnMut(&mut Dictionary)) {
        f(d);
        d.iter_mut().for_each(|(_, v)| walk(v, f));
    }
    walk_dict(&mut doc.trailer, f);
    doc.objects.values_mut().for_each(|o| walk(o, f));
}

fn name<'a>(d: &'a Dictionary, key: &[u8]) -> Option<&'a [u8]> {
    match d.get(key) {
        Ok(Object::Name(n)) => Some(n),
        _ => None,
    }
}

/// The active-content kind of an action dictionary's `/S`, if it is a dangerous one.
fn dangerous_action(d: &Dictionary) -> Option<ActiveContent> {
    match name(d, b"S")? {
        b"JavaScript" => Some(ActiveContent::JavaScript),
        b"Launch" => Some(ActiveContent::Launch),
        b"GoToR" | b"GoToE" => Some(ActiveContent::RemoteGoTo),
        b"SubmitForm" | b"ImportData" => Some(ActiveContent::FormAction),
        _ => None,
    }
}

/// Whether a catalog `/OpenAction` value is an action. A destination array, and a plain
/// `/GoTo` action without `/Next` (how pdfTeX and others write "open at page 1"), only choose
/// where the viewer opens and are allowed.
fn is_open_action(open: &Object) -> bool {
    match open {
        Object::Dictionary(d) => name(d, b"S") != Some(b"GoTo") || d.has(b"Next"),
        _ => false,
    }
}

/// Every kind of active content in the document.
fn scan_active(doc: &Document) -> BTreeSet<ActiveContent> {
    let mut found = BTreeSet::new();
    if let Ok(catalog) = doc.catalog()
        && let Ok(open) = catalog.get(b"OpenAction")
        && is_open_action(resolve(doc, open))
    {
        found.insert(ActiveContent::OpenAction);
    }
    for_each_dict(doc, &mut |d| {
        if let Some(kind) = dangerous_action(d) {
            found.insert(kind);
        }
        if d.has(b"AA") {
            found.insert(ActiveContent::AdditionalActions);
        }
        if d.has(b"JS") || d.has(b"JavaScript") {
            found.insert(ActiveContent::JavaScript);
        }
        if d.has(b"EmbeddedFiles")
            || d.has(b"EF")
            || name(d, b"Type") == Some(b"EmbeddedFile")
            || (name(d, b"Subtype") == Some(b"FileAttachment") && d.has(b"FS"))
        {
            found.insert(ActiveContent::EmbeddedFile);
        }
        if d.has(b"XFA") {
            found.insert(ActiveContent::Xfa);
        }
    });
    found
}

/// Removes every entry that holds or points at active content; objects left unreferenced are
/// pruned by the caller, and a second scan must then find nothing.
fn remove_active(doc: &mut Document, report: &mut Report) {
    let dangerous: HashSet<ObjectId> = doc
        .objects
        .iter()
        .filter(|(_, o)| match o {
            Object::Dictionary(d) => {
                dangerous_action(d).is_some() || name(d, b"Type") == Some(b"EmbeddedFile")
            }
            Object::Stream(s) => name(&s.dict, b"Type") == Some(b"EmbeddedFile"),
            _ => false,
        })
        .map(|(id, _)| *id)
        .collect();
    let is_dangerous = |o: &Object| match o {
        Object::Reference(id) => dangerous.contains(id),
        Object::Dictionary(d) => dangerous_action(d).is_some(),
        Object::Array(items) => items.iter().any(|i| match i {
            Object::Reference(id) => dangerous.contains(id),
            Object::Dictionary(d) => dangerous_action(d).is_some(),
            _ => false,
        }),
        _ => false,
    };
    let open_action_is_action = doc
        .catalog()
        .ok()
        .and_then(|c| c.get(b"OpenAction").ok())
        .is_some_and(|o| is_open_action(resolve(doc, o)));
    if open_action_is_action && let Ok(catalog) = doc.catalog_mut() {
        catalog.remove(b"OpenAction");
        report.add(Category::PdfActiveContent, 0);
    }
    for_each_dict_mut(doc, &mut |d| {
        for key in [
            &b"AA"[..],
            b"JS",
            b"JavaScript",
            b"EmbeddedFiles",
            b"EF",
            b"XFA",
        ] {
            if d.remove(key).is_some() {
                report.add(Category::PdfActiveContent, 0);
            }
        }
        if name(d, b"Subtype") == Some(b"FileAttachment") && d.remove(b"FS").is_some() {
            report.add(Category::PdfActiveContent, 0);
        }
        for key in [&b"A"[..], b"OpenAction", b"Next"] {
            if d.get(key).is_ok_and(is_dangerous) {
                d.remove(key);
                report.add(Category::PdfActiveContent, 0);
            }
        }
        if dangerous_action(d).is_some() {
            // A dangerous action still reachable some other way is disarmed in place.
            d.remove(b"S");
            d.remove(b"F");
            d.remove(b"Win");
            d.remove(b"Unix");
            d.remove(b"Mac");
            report.add(Category::PdfActiveContent, 0);
        }
    });
    let files: Vec<ObjectId> = doc
        .objects
        .iter()
        .filter(|(_, o)| match o {
            Object::Stream(s) => name(&s.dict, b"Type") == Some(b"EmbeddedFile"),
            Object::Dictionary(d) => name(d, b"Type") == Some(b"EmbeddedFile"),
            _ => false,
        })
        .map(|(id, _)| *id)
        .collect();
    for id in files {
        if let Some(Object::Stream(s)) = doc.objects.remove(&id) {
            report.add(Category::PdfActiveContent, s.content.len() as u64);
        } else {
            report.add(Category::PdfActiveContent, 0);
        }
    }
}

/// Annotation subtypes that are markup (ISO 32000-1 table 170): they carry an author in `/T`.
const MARKUP_ANNOTATIONS: &[&[u8]] = &[
    b"Text",
    b"FreeText",
    b"Line",
    b"Square",
    b"Circle",
    b"Polygon",
    b"PolyLine",
    b"Highlight",
    b"Underline",
    b"Squiggly",
    b"StrikeOut",
    b"Stamp",
    b"Caret",
    b"Ink",
    b"FileAttachment",
    b"Sound",
    b"Redact",
];

/// Removes the Info dictionary, every `/Metadata` entry and XMP stream, `/PieceInfo`,
/// `/LastModified`, and the author and dates of markup annotations.
fn remove_metadata(doc: &mut Document, report: &mut Report) {
    if doc.trailer.remove(b"Info").is_some() {
        report.add(Category::PdfInfo, 0);
    }
    let xmp: Vec<ObjectId> = doc
        .objects
        .iter()
        .filter(|(_, o)| match o {
            Object::Stream(s) => {
                name(&s.dict, b"Type") == Some(b"Metadata")
                    || name(&s.dict, b"Subtype") == Some(b"XML")
            }
            _ => false,
        })
        .map(|(id, _)| *id)
        .collect();
    for id in xmp {
        if let Some(Object::Stream(s)) = doc.objects.remove(&id) {
            report.add(Category::PdfMetadata, s.content.len() as u64);
        }
    }
    for_each_dict_mut(doc, &mut |d| {
        if d.remove(b"Metadata").is_some() {
            report.add(Category::PdfMetadata, 0);
        }
        if d.remove(b"PieceInfo").is_some() {
            report.add(Category::PdfPieceInfo, 0);
        }
        if d.remove(b"LastModified").is_some() {
            report.add(Category::PdfMetadata, 0);
        }
        // Markup annotations (comments, highlights, stamps) name their author in /T and date
        // themselves; form widgets keep /T, which there is the field name.
        let subtype = name(d, b"Subtype");
        let markup = subtype.is_some_and(|s| MARKUP_ANNOTATIONS.contains(&s));
        if markup || (name(d, b"Type") == Some(b"Annot") && subtype != Some(b"Widget")) {
            for key in [&b"T"[..], b"M", b"CreationDate"] {
                if d.remove(key).is_some() {
                    report.add(Category::PdfMetadata, 0);
                }
            }
        }
    });
}
