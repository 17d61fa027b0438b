//! PDF: loads the object graph within limits, removes metadata and active content, strips the
//! metadata of its JPEG images, writes a fresh file and checks that pages and media boxes
//! survived.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::panic::{self, AssertUnwindSafe};
use std::time::Instant;

use lopdf::{Dictionary, Document, LoadOptions, Object, ObjectId};

use crate::error::{ActiveContent, Error, LimitRule, Result};
use crate::jpeg;
use crate::kind::FileKind;
use crate::limits::Limits;
use crate::pdf_scan;
use crate::permits::Deadline;
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
    let deadline = Deadline::for_pdf(Instant::now(), limits.max_pdf_time());
    // lopdf's encrypted path ignores the load filter and decrypts every object, so the upload
    // is refused before lopdf sees it. (Not the written copy: a hex string spelling the name
    // comes out of lopdf as a literal one.)
    if pdf_scan::mentions_encrypt(input) {
        return Err(Error::Encrypted);
    }
    let Loaded { mut doc, pages } = load(input, limits, deadline)?;
    let mut report = Report::default();

    let found = scan_active(&doc, deadline)?;
    if let Some(&first) = found.iter().next() {
        match policy {
            ActiveContentPolicy::Reject => return Err(Error::ActiveContent(first)),
            ActiveContentPolicy::Remove => {
                remove_active(&mut doc, &mut report, deadline)?;
                doc.prune_objects();
                if let Some(&left) = scan_active(&doc, deadline)?.iter().next() {
                    return Err(Error::ActiveContent(left));
                }
            }
        }
    }
    remove_metadata(&mut doc, &mut report, deadline)?;
    doc.prune_objects();
    deadline.check()?;
    // After pruning, so only images the document still uses are cleaned (or refuse it).
    clean_images(&mut doc, &mut report, deadline)?;
    // The trailer's /Size must be one past the highest object number written, not the highest
    // one before pruning (qpdf --check warns otherwise).
    doc.max_id = doc
        .objects
        .keys()
        .map(|&(number, _)| number)
        .max()
        .unwrap_or(0);

    let mut out = Vec::with_capacity(input.len());
    doc.save_to(&mut out).map_err(|e| Error::Encode {
        kind: KIND,
        source: Box::new(e),
    })?;
    // Only the page facts are needed from here on: free the first document before the second
    // load, so the two never hold memory at the same time.
    drop(doc);
    deadline.check()?;

    // Read the written file back: the same pages with the same media boxes, or it is our fault.
    // A limit stays a limit (the written copy can weigh a little more than what was kept:
    // lopdf escapes binary strings), anything else is ours.
    let written = load(&out, limits, deadline).map_err(|e| match e {
        Error::Limit(_) => e,
        e => Error::Encode {
            kind: KIND,
            source: Box::new(e),
        },
    })?;
    if written.pages != pages {
        return Err(Error::Encode {
            kind: KIND,
            source: "cleaned pdf lost pages or media boxes".into(),
        });
    }
    Ok((out, report))
}

/// Loads within limits: the syntax weighed and every object stream inflated and weighed before
/// lopdf parses anything, then, while lopdf loads, objects and the weight kept counted and the
/// deadline watched; encryption, object and page counts checked after.
fn load(input: &[u8], limits: &Limits, deadline: Deadline) -> Result<Loaded> {
    let weight_limit = limits.max_pdf_weight();
    let weight_error = || {
        Error::Limit(LimitRule::PdfWeight {
            limit: weight_limit,
        })
    };
    let bounds = pdf_scan::FileBounds {
        weight: weight_limit,
        stream_bytes: limits.max_pdf_stream_bytes(),
        inflated_bytes: limits.max_pdf_inflated_bytes(),
        deadline: deadline.at(),
    };
    match pdf_scan::file_weight(input, &bounds) {
        Ok(_) => {}
        Err(pdf_scan::Stop::Weight) => return Err(weight_error()),
        Err(pdf_scan::Stop::Time) => return Err(deadline.exceeded()),
        Err(pdf_scan::Stop::Stream) => {
            return Err(Error::Limit(LimitRule::PdfStream {
                limit: limits.max_pdf_stream_bytes(),
            }));
        }
        Err(pdf_scan::Stop::Inflated) => {
            return Err(Error::Limit(LimitRule::PdfInflated {
                limit: limits.max_pdf_inflated_bytes(),
            }));
        }
        Err(pdf_scan::Stop::Filter) => {
            return Err(Error::malformed(
                KIND,
                "an object stream uses a filter other than FlateDecode",
            ));
        }
    }
    let doc = parse(input, limits, deadline)?;
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
    deadline.check()?;
    let pages = page_ids.values().map(|&id| media_box(&doc, id)).collect();
    Ok(Loaded { doc, pages })
}

/// lopdf's load of a file that passed the byte-level checks, bounded again while it runs: each
/// object stream inflated within [`Limits::max_pdf_stream_bytes`], and every object counted and
/// weighed by [`admit`] as lopdf keeps it. The second line of defence: on its own it must hold
/// even for a file the byte-level checks did not see as they should.
fn parse(input: &[u8], limits: &Limits, deadline: Deadline) -> Result<Document> {
    let options = LoadOptions {
        max_decompressed_size: Some(limits.max_pdf_stream_bytes()),
        filter: Some(admit),
        ..LoadOptions::default()
    };
    BUDGET.with(|b| {
        *b.borrow_mut() = Some(Budget {
            objects_left: limits.max_pdf_objects(),
            kept_left: limits.max_pdf_weight(),
            limits: limits.clone(),
            deadline,
        })
    });
    let loaded = panic::catch_unwind(AssertUnwindSafe(|| {
        Document::load_mem_with_options(input, options)
    }));
    BUDGET.with(|b| b.borrow_mut().take());
    let loaded = match loaded {
        Ok(loaded) => loaded,
        Err(payload) => match payload.downcast::<Refused>() {
            Ok(refused) => return Err(Error::Limit(refused.0)),
            Err(other) => panic::resume_unwind(other),
        },
    };
    match loaded {
        Ok(doc) => Ok(doc),
        Err(
            lopdf::Error::Decryption(_)
            | lopdf::Error::InvalidPassword
            | lopdf::Error::AlreadyEncrypted
            | lopdf::Error::UnsupportedSecurityHandler(_),
        ) => Err(Error::Encrypted),
        Err(lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded { .. })) => {
            Err(Error::Limit(LimitRule::PdfStream {
                limit: limits.max_pdf_stream_bytes(),
            }))
        }
        Err(e) => Err(Error::decoder(KIND, "document does not load", e)),
    }
}

/// What the current load may still use, so every bound holds *while* lopdf loads, not only
/// afterwards. Loading is single-threaded (lopdf's `rayon` feature is off), so a thread-local
/// is exact.
struct Budget {
    objects_left: usize,
    /// Weight of the objects lopdf may still keep, copies included.
    kept_left: u64,
    limits: Limits,
    deadline: Deadline,
}

thread_local! {
    static BUDGET: RefCell<Option<Budget>> = const { RefCell::new(None) };
}

/// The unwind payload that stops lopdf mid-load: the filter cannot return an error, and
/// dropping objects would let lopdf go on parsing the rest of a hostile file.
/// `resume_unwind` skips the panic hook, so nothing is printed.
struct Refused(LimitRule);

/// lopdf's load filter: counts and weighs every object and refuses the file as soon as a
/// budget runs out.
fn admit(id: ObjectId, object: &mut Object) -> Option<(ObjectId, Object)> {
    let verdict = BUDGET.with(|b| match b.borrow_mut().as_mut() {
        Some(budget) => budget.admit(object),
        // Only `load` installs this filter, and it sets the budget first.
        None => Err(LimitRule::PdfObjects { limit: 0 }),
    });
    if let Err(rule) = verdict {
        panic::resume_unwind(Box::new(Refused(rule)));
    }
    // lopdf keeps its own `object` for top-level objects and uses the returned value only for
    // members of object streams, which are never streams: so streams are not copied, and any
    // other object is copied once (kept for a member, dropped at once for a top-level object),
    // within the weight budget just charged.
    match object {
        Object::Stream(_) => Some((id, Object::Null)),
        other => Some((id, other.clone())),
    }
}

impl Budget {
    fn admit(&mut self, object: &Object) -> Result<(), LimitRule> {
        let limits = &self.limits;
        if self.deadline.passed() {
            return Err(self.deadline.rule());
        }
        self.objects_left = self
            .objects_left
            .checked_sub(1)
            .ok_or(LimitRule::PdfObjects {
                limit: limits.max_pdf_objects(),
            })?;
        self.kept_left =
            self.kept_left
                .checked_sub(weight(object))
                .ok_or(LimitRule::PdfWeight {
                    limit: limits.max_pdf_weight(),
                })?;
        Ok(())
    }
}

/// The weight of a parsed object, in the units of [`Limits::max_pdf_weight`]: one per object
/// and per 128 bytes of string, name or stream data, one per dictionary key.
pub(crate) fn weight(object: &Object) -> u64 {
    fn data(len: usize) -> u64 {
        len as u64 / 128
    }
    fn dict(d: &Dictionary) -> u64 {
        d.iter()
            .map(|(k, v)| 1 + data(k.len()) + weight(v))
            .fold(1, u64::saturating_add)
    }
    match object {
        Object::Array(items) => items.iter().map(weight).fold(1, u64::saturating_add),
        Object::Dictionary(d) => dict(d),
        Object::Stream(s) => dict(&s.dict).saturating_add(data(s.content.len())),
        Object::String(bytes, _) | Object::Name(bytes) => 1 + data(bytes.len()),
        _ => 1,
    }
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
/// trailer, however deeply nested in direct arrays and dictionaries, until the deadline.
fn for_each_dict(
    doc: &Document,
    deadline: Deadline,
    f: &mut impl FnMut(&Dictionary),
) -> Result<()> {
    let mut pace = Pace::new(deadline);
    walk_all(doc, &mut |d: &Dictionary| {
        if pace.go_on() {
            f(d);
        }
    });
    pace.finish()
}

/// Checks a deadline every 1,024 dictionaries of a walk; once it has passed, the rest of the
/// walk is skipped and the walk ends with the deadline's error.
struct Pace {
    deadline: Deadline,
    visited: u32,
    late: bool,
}

impl Pace {
    fn new(deadline: Deadline) -> Self {
        Self {
            deadline,
            visited: 0,
            late: false,
        }
    }

    /// Whether the walk may visit the next dictionary.
    fn go_on(&mut self) -> bool {
        if !self.late {
            self.visited = self.visited.wrapping_add(1);
            self.late = self.visited.is_multiple_of(1024) && self.deadline.passed();
        }
        !self.late
    }

    fn finish(self) -> Result<()> {
        if self.late {
            Err(self.deadline.exceeded())
        } else {
            Ok(())
        }
    }
}

fn walk_all(doc: &Document, f: &mut impl FnMut(&Dictionary)) {
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
fn for_each_dict_mut(
    doc: &mut Document,
    deadline: Deadline,
    f: &mut impl FnMut(&mut Dictionary),
) -> Result<()> {
    let mut pace = Pace::new(deadline);
    walk_all_mut(doc, &mut |d: &mut Dictionary| {
        if pace.go_on() {
            f(d);
        }
    });
    pace.finish()
}

fn walk_all_mut(doc: &mut Document, f: &mut impl FnMut(&mut Dictionary)) {
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

/// Names and strings held in indirect objects, resolved once so the checks below see
/// `/S 9 0 R` with `9 0 obj /Launch endobj` as `/S /Launch`, as viewers do (pdf.js
/// `Dict.get`, PDFium `GetString`). Owned, so it can be used while the document is mutated.
struct Indirect {
    names: HashMap<ObjectId, Vec<u8>>,
    script_uris: HashSet<ObjectId>,
}

impl Indirect {
    /// How many references a chain may pass through, like lopdf's `Document::dereference`.
    const HOPS: usize = 128;

    fn of(doc: &Document) -> Self {
        let mut names = HashMap::new();
        let mut script_uris = HashSet::new();
        for &id in doc.objects.keys() {
            let mut object = doc.objects.get(&id);
            for _ in 0..Self::HOPS {
                match object {
                    Some(Object::Reference(next)) => object = doc.objects.get(next),
                    _ => break,
                }
            }
            match object {
                Some(Object::Name(n)) => {
                    names.insert(id, n.clone());
                }
                Some(Object::String(s, _)) if is_script_uri(s) => {
                    script_uris.insert(id);
                }
                _ => {}
            }
        }
        Self { names, script_uris }
    }

    /// The name under `key`, direct or through a reference.
    fn name<'a>(&'a self, d: &'a Dictionary, key: &[u8]) -> Option<&'a [u8]> {
        match d.get(key) {
            Ok(Object::Name(n)) => Some(n),
            Ok(Object::Reference(id)) => self.names.get(id).map(Vec::as_slice),
            _ => None,
        }
    }

    /// Whether the string under `key`, direct or through a reference, is a script URI.
    fn script_uri(&self, d: &Dictionary, key: &[u8]) -> bool {
        match d.get(key) {
            Ok(Object::String(s, _)) => is_script_uri(s),
            Ok(Object::Reference(id)) => self.script_uris.contains(id),
            _ => false,
        }
    }

    /// The active-content kind of an action dictionary, if it is a dangerous one.
    fn dangerous_action(&self, d: &Dictionary) -> Option<ActiveContent> {
        match self.name(d, b"S")? {
            b"JavaScript" => Some(ActiveContent::JavaScript),
            b"Launch" => Some(ActiveContent::Launch),
            b"GoToR" | b"GoToE" => Some(ActiveContent::RemoteGoTo),
            b"SubmitForm" | b"ImportData" => Some(ActiveContent::FormAction),
            b"RichMediaExecute" => Some(ActiveContent::RichMedia),
            b"URI" if self.script_uri(d, b"URI") => Some(ActiveContent::JavaScript),
            _ => None,
        }
    }

    /// Whether a catalog `/OpenAction` value is an action. A destination array, and a plain
    /// `/GoTo` action without `/Next` (how pdfTeX and others write "open at page 1"), only
    /// choose where the viewer opens and are allowed.
    fn is_open_action(&self, open: &Object) -> bool {
        match open {
            Object::Dictionary(d) => self.name(d, b"S") != Some(b"GoTo") || d.has(b"Next"),
            _ => false,
        }
    }
}

/// Whether a URI runs script when followed: `javascript:` (or `vbscript:`) in any case, after
/// the leading blanks and control characters and with the tabs and line breaks inside it that
/// browsers ignore.
fn is_script_uri(uri: &[u8]) -> bool {
    let scheme: Vec<u8> = uri
        .iter()
        .skip_while(|&&c| c <= b' ')
        .filter(|&&c| !matches!(c, b'\t' | b'\n' | b'\r'))
        .take(11)
        .map(u8::to_ascii_lowercase)
        .collect();
    scheme.starts_with(b"javascript:") || scheme.starts_with(b"vbscript:")
}

/// Every kind of active content in the document.
fn scan_active(doc: &Document, deadline: Deadline) -> Result<BTreeSet<ActiveContent>> {
    let ind = Indirect::of(doc);
    let mut found = BTreeSet::new();
    if let Ok(catalog) = doc.catalog()
        && let Ok(open) = catalog.get(b"OpenAction")
        && ind.is_open_action(resolve(doc, open))
    {
        found.insert(ActiveContent::OpenAction);
    }
    for_each_dict(doc, deadline, &mut |d| {
        if let Some(kind) = ind.dangerous_action(d) {
            found.insert(kind);
        }
        if d.has(b"AA") {
            found.insert(ActiveContent::AdditionalActions);
        }
        // `/OnInstantiate` is the script a 3D stream (`/3DD`) runs when it is shown.
        if d.has(b"JS") || d.has(b"JavaScript") || d.has(b"OnInstantiate") {
            found.insert(ActiveContent::JavaScript);
        }
        if RICH_MEDIA_KEYS.iter().any(|k| d.has(k)) {
            found.insert(ActiveContent::RichMedia);
        }
        if d.has(b"EmbeddedFiles")
            || d.has(b"EF")
            || ind.name(d, b"Type") == Some(b"EmbeddedFile")
            || (ind.name(d, b"Subtype") == Some(b"FileAttachment") && d.has(b"FS"))
        {
            found.insert(ActiveContent::EmbeddedFile);
        }
        if d.has(b"XFA") {
            found.insert(ActiveContent::Xfa);
        }
    })?;
    Ok(found)
}

/// Removes every entry that holds or points at active content; objects left unreferenced are
/// pruned by the caller, and a second scan must then find nothing.
fn remove_active(doc: &mut Document, report: &mut Report, deadline: Deadline) -> Result<()> {
    let ind = Indirect::of(doc);
    let dangerous: HashSet<ObjectId> = doc
        .objects
        .iter()
        .filter(|(_, o)| match o {
            Object::Dictionary(d) => {
                ind.dangerous_action(d).is_some() || ind.name(d, b"Type") == Some(b"EmbeddedFile")
            }
            Object::Stream(s) => ind.name(&s.dict, b"Type") == Some(b"EmbeddedFile"),
            _ => false,
        })
        .map(|(id, _)| *id)
        .collect();
    let is_dangerous = |o: &Object| match o {
        Object::Reference(id) => dangerous.contains(id),
        Object::Dictionary(d) => ind.dangerous_action(d).is_some(),
        Object::Array(items) => items.iter().any(|i| match i {
            Object::Reference(id) => dangerous.contains(id),
            Object::Dictionary(d) => ind.dangerous_action(d).is_some(),
            _ => false,
        }),
        _ => false,
    };
    let open_action_is_action = doc
        .catalog()
        .ok()
        .and_then(|c| c.get(b"OpenAction").ok())
        .is_some_and(|o| ind.is_open_action(resolve(doc, o)));
    if open_action_is_action && let Ok(catalog) = doc.catalog_mut() {
        catalog.remove(b"OpenAction");
        report.add(Category::PdfActiveContent, 0);
    }
    for_each_dict_mut(doc, deadline, &mut |d| {
        for key in [
            &b"AA"[..],
            b"JS",
            b"JavaScript",
            b"EmbeddedFiles",
            b"EF",
            b"XFA",
            b"OnInstantiate",
        ]
        .into_iter()
        .chain(RICH_MEDIA_KEYS.iter().copied())
        {
            if d.remove(key).is_some() {
                report.add(Category::PdfActiveContent, 0);
            }
        }
        if ind.name(d, b"Subtype") == Some(b"FileAttachment") && d.remove(b"FS").is_some() {
            report.add(Category::PdfActiveContent, 0);
        }
        for key in [&b"A"[..], b"OpenAction", b"Next"] {
            if d.get(key).is_ok_and(is_dangerous) {
                d.remove(key);
                report.add(Category::PdfActiveContent, 0);
            }
        }
        if ind.dangerous_action(d).is_some() {
            // A dangerous action still reachable some other way is disarmed in place.
            for key in [
                &b"S"[..],
                b"F",
                b"Win",
                b"Unix",
                b"Mac",
                b"URI",
                b"Instances",
            ] {
                d.remove(key);
            }
            report.add(Category::PdfActiveContent, 0);
        }
    })?;
    let files: Vec<ObjectId> = doc
        .objects
        .iter()
        .filter(|(_, o)| match o {
            Object::Stream(s) => ind.name(&s.dict, b"Type") == Some(b"EmbeddedFile"),
            Object::Dictionary(d) => ind.name(d, b"Type") == Some(b"EmbeddedFile"),
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
    Ok(())
}

/// The entries of a RichMedia annotation that carry its content (Flash, video, 3D and their
/// embedded assets) and how it is launched; without them the annotation is an empty frame.
const RICH_MEDIA_KEYS: &[&[u8]] = &[b"RichMediaContent", b"RichMediaSettings"];

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

/// What an annotation other than a form widget says about who wrote it, when, and what: the
/// author (`/T`, which on a widget is the field name and is kept), dates, the comment text
/// (`/Contents`, rich text `/RC`) and its subject.
const ANNOTATION_DETAILS: &[&[u8]] = &[b"T", b"M", b"CreationDate", b"Contents", b"RC", b"Subj"];

/// What a signature dictionary records about the signer and the signing: name, place, contact,
/// reason, time, the signing application and authentication, and the signature itself
/// (`/Contents`, a PKCS#7 blob carrying the signer's certificate, or `/Cert`). Rewriting the
/// file already invalidates the signature, which covers the original bytes (`/ByteRange`); what
/// stays (`/Filter`, `/SubFilter`, `/ByteRange`) shows it was signed, not by whom.
const SIGNATURE_DETAILS: &[&[u8]] = &[
    b"Name",
    b"Location",
    b"ContactInfo",
    b"Reason",
    b"M",
    b"Contents",
    b"Cert",
    b"Prop_Build",
    b"Prop_AuthTime",
    b"Prop_AuthType",
];

/// Signature dictionaries that only their place shows: the `/V` of a field whose `/FT /Sig`
/// may be inherited from a parent field, and the values of the catalog's `/Perms`. (Any
/// dictionary saying `/Type /Sig` or `/DocTimeStamp`, or holding `/ByteRange`, is one too.)
struct Signatures {
    /// Indirect signature dictionaries.
    values: HashSet<ObjectId>,
    /// Signature fields whose `/V` is a direct dictionary.
    direct: HashSet<ObjectId>,
}

impl Signatures {
    fn of(doc: &Document, ind: &Indirect, deadline: Deadline) -> Result<Self> {
        let mut values = HashSet::new();
        let mut direct = HashSet::new();
        for (n, (&id, object)) in doc.objects.iter().enumerate() {
            if n % 1024 == 0 {
                deadline.check()?;
            }
            let Object::Dictionary(d) = object else {
                continue;
            };
            let Ok(value) = d.get(b"V") else {
                continue;
            };
            if !is_signature_field(doc, ind, d) {
                continue;
            }
            match doc.dereference(value) {
                Ok((Some(value_id), Object::Dictionary(_))) => {
                    values.insert(value_id);
                }
                Ok((None, Object::Dictionary(_))) => {
                    direct.insert(id);
                }
                _ => {}
            }
        }
        let perms = doc
            .catalog()
            .ok()
            .and_then(|c| c.get(b"Perms").ok())
            .and_then(|p| doc.dereference(p).ok());
        if let Some((_, Object::Dictionary(perms))) = perms {
            for (_, value) in perms.iter() {
                if let Ok((Some(value_id), _)) = doc.dereference(value) {
                    values.insert(value_id);
                }
            }
        }
        Ok(Self { values, direct })
    }
}

/// Whether a field's type, its own or inherited through `/Parent`, is `/Sig`.
fn is_signature_field(doc: &Document, ind: &Indirect, field: &Dictionary) -> bool {
    let mut d = field;
    for _ in 0..Indirect::HOPS {
        if let Some(ft) = ind.name(d, b"FT") {
            return ft == b"Sig";
        }
        match d.get(b"Parent").map(|p| doc.dereference(p)) {
            Ok(Ok((_, Object::Dictionary(parent)))) => d = parent,
            _ => return false,
        }
    }
    false
}

/// Whether a dictionary shows by itself that it is a signature (or document time stamp).
fn is_signature(ind: &Indirect, d: &Dictionary) -> bool {
    matches!(ind.name(d, b"Type"), Some(b"Sig" | b"DocTimeStamp")) || d.has(b"ByteRange")
}

/// Whether a dictionary found where a signature belongs is untyped or typed as a signature.
fn may_be_signature(ind: &Indirect, d: &Dictionary) -> bool {
    matches!(ind.name(d, b"Type"), None | Some(b"Sig" | b"DocTimeStamp"))
}

fn remove_signature_details(d: &mut Dictionary, report: &mut Report) {
    for key in SIGNATURE_DETAILS {
        if d.remove(key).is_some() {
            report.add(Category::PdfMetadata, 0);
        }
    }
}

/// Removes the Info dictionary, every `/Metadata` entry and XMP stream, `/PieceInfo`,
/// `/LastModified`, the author, dates and comment text of annotations (not form widgets), and
/// the signer's details in signature dictionaries.
fn remove_metadata(doc: &mut Document, report: &mut Report, deadline: Deadline) -> Result<()> {
    let ind = Indirect::of(doc);
    let signatures = Signatures::of(doc, &ind, deadline)?;
    for (id, object) in &mut doc.objects {
        let d = match object {
            Object::Dictionary(d) => d,
            Object::Stream(s) => &mut s.dict,
            _ => continue,
        };
        // Only dictionaries that do not say they are something else (a page's /Contents is
        // its content, not a signature).
        if signatures.values.contains(id) && may_be_signature(&ind, d) {
            remove_signature_details(d, report);
        }
        if signatures.direct.contains(id)
            && let Ok(Object::Dictionary(value)) = d.get_mut(b"V")
            && may_be_signature(&ind, value)
        {
            remove_signature_details(value, report);
        }
    }
    if doc.trailer.remove(b"Info").is_some() {
        report.add(Category::PdfInfo, 0);
    }
    let xmp: Vec<ObjectId> = doc
        .objects
        .iter()
        .filter(|(_, o)| match o {
            Object::Stream(s) => {
                ind.name(&s.dict, b"Type") == Some(b"Metadata")
                    || ind.name(&s.dict, b"Subtype") == Some(b"XML")
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
    for_each_dict_mut(doc, deadline, &mut |d| {
        if d.remove(b"Metadata").is_some() {
            report.add(Category::PdfMetadata, 0);
        }
        if d.remove(b"PieceInfo").is_some() {
            report.add(Category::PdfPieceInfo, 0);
        }
        if d.remove(b"LastModified").is_some() {
            report.add(Category::PdfMetadata, 0);
        }
        // Markup annotations (comments, highlights, stamps) and their popups name their author
        // in /T, date themselves and hold the comment text; form widgets keep /T, which there
        // is the field name. A FreeText annotation without an appearance stream is drawn from
        // its /Contents (text typed onto the page): that is content, and stays.
        let subtype = ind.name(d, b"Subtype");
        let markup = subtype.is_some_and(|s| MARKUP_ANNOTATIONS.contains(&s));
        let annotation = markup
            || subtype == Some(b"Popup")
            || (ind.name(d, b"Type") == Some(b"Annot") && subtype != Some(b"Widget"));
        if annotation {
            let shown_text = subtype == Some(b"FreeText") && !d.has(b"AP");
            for key in ANNOTATION_DETAILS {
                if shown_text && matches!(*key, b"Contents" | b"RC") {
                    continue;
                }
                if d.remove(key).is_some() {
                    report.add(Category::PdfMetadata, 0);
                }
            }
        }
        if is_signature(&ind, d) {
            remove_signature_details(d, report);
        }
    })
}

/// How a stream's stored bytes are encoded, as far as image metadata goes.
#[derive(Debug, PartialEq, Eq)]
enum Encoding {
    /// A JPEG as it is: `/Filter /DCTDecode` or `[/DCTDecode]`.
    Jpeg,
    /// A JPEG under a further filter (`[/FlateDecode /DCTDecode]`, `[/ASCII85Decode
    /// /DCTDecode]`, …) or twice.
    WrappedJpeg,
    /// Anything else: raw or deflated pixels, fonts, content streams, other image codecs.
    Other,
}

/// The encoding of a stream with this dictionary: `/Filter` and its names resolved through
/// indirect objects, and the abbreviation `/DCT` counted as `/DCTDecode`, as pdf.js reads it.
fn encoding(doc: &Document, dict: &Dictionary) -> Encoding {
    fn deref<'a>(doc: &'a Document, object: &'a Object) -> &'a Object {
        doc.dereference(object)
            .map_or(&Object::Null, |(_, resolved)| resolved)
    }
    let Ok(filter) = dict.get(b"Filter") else {
        return Encoding::Other;
    };
    let filters: Vec<&Object> = match deref(doc, filter) {
        Object::Array(items) => items.iter().map(|i| deref(doc, i)).collect(),
        other => vec![other],
    };
    let is_dct = |f: &Object| matches!(f, Object::Name(n) if n == b"DCTDecode" || n == b"DCT");
    match filters.iter().filter(|f| is_dct(f)).count() {
        0 => Encoding::Other,
        1 if filters.len() == 1 => Encoding::Jpeg,
        _ => Encoding::WrappedJpeg,
    }
}

/// Runs every JPEG stream (image XObjects, thumbnails, wherever `/DCTDecode` is the only
/// filter) through the JPEG stripper, so a scanned page loses the camera's EXIF, GPS and XMP,
/// and sets `/Length` to the new size. The scan data is copied byte for byte, so the image
/// decodes to the same pixels. The EXIF orientation is dropped, not applied: in a PDF the
/// page's matrix places the image, and viewers ignore EXIF.
///
/// Fails closed: a JPEG stream that does not parse, or a JPEG under another filter (which
/// would have to be decoded and encoded again to reach its segments), refuses the file. The
/// stripper reads stream data lopdf already holds, within the file size and weight limits,
/// and writes at most as many bytes; the deadline is checked between streams.
fn clean_images(doc: &mut Document, report: &mut Report, deadline: Deadline) -> Result<()> {
    let mut jpegs = Vec::new();
    for (&id, object) in &doc.objects {
        if let Object::Stream(s) = object {
            match encoding(doc, &s.dict) {
                Encoding::Jpeg => jpegs.push(id),
                Encoding::WrappedJpeg => {
                    return Err(Error::PdfImage {
                        reason: "a jpeg image is stored under a further filter",
                    });
                }
                Encoding::Other => {}
            }
        }
    }
    for id in jpegs {
        deadline.check()?;
        let Some(Object::Stream(stream)) = doc.objects.get_mut(&id) else {
            continue;
        };
        let stripped = jpeg::strip(&stream.content, &deadline)
            .map_err(|e| Error::decoder(KIND, "an image stream is not a well-formed jpeg", e))?;
        report.merge(&stripped.report);
        stream.set_content(stripped.bytes);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;
    use std::time::{Duration, Instant};

    use flate2::Compression;
    use flate2::write::ZlibEncoder;
    use lopdf::{Object, Stream, StringFormat, dictionary};

    use super::*;

    /// A one-page PDF written by lopdf, with `extra` as one more object.
    fn one_page_with(extra: Object) -> Vec<u8> {
        let mut doc = Document::with_version("1.7");
        let pages = doc.new_object_id();
        let page = doc.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => pages,
            "MediaBox" => vec![0.into(), 0.into(), 612.into(), 792.into()],
        });
        doc.objects.insert(
            pages,
            dictionary! { "Type" => "Pages", "Kids" => vec![page.into()], "Count" => 1 }.into(),
        );
        let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages });
        doc.trailer.set("Root", catalog);
        doc.add_object(extra);
        let mut out = Vec::new();
        doc.save_to(&mut out).unwrap();
        out
    }

    /// A one-page PDF whose object 4 is a FlateDecode object stream holding object 100, an
    /// array of `zeros` zeros. Written by hand (lopdf's writer leaves object streams out), with
    /// no cross-reference table: lopdf finds the objects by scanning, as for a damaged file.
    fn one_page_with_object_stream(zeros: usize) -> Vec<u8> {
        let header = b"100 0 ";
        let mut members = header.to_vec();
        members.push(b'[');
        members.extend(std::iter::repeat_n(b"0 ".as_slice(), zeros).flatten());
        members.push(b']');
        let mut packed = ZlibEncoder::new(Vec::new(), Compression::default());
        packed.write_all(&members).unwrap();
        let packed = packed.finish().unwrap();
        let mut file = format!(
            "%PDF-1.7\n\
             1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n\
             2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n\
             3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>\nendobj\n\
             4 0 obj\n<< /Type /ObjStm /N 1 /First {} /Filter /FlateDecode /Length {} >>\nstream\n",
            header.len(),
            packed.len()
        )
        .into_bytes();
        file.extend_from_slice(&packed);
        file.extend_from_slice(b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n");
        file
    }

    fn parse_within(input: &[u8], limits: &Limits) -> Result<Document> {
        parse(
            input,
            limits,
            Deadline::for_pdf(Instant::now(), limits.max_pdf_time()),
        )
    }

    #[test]
    fn the_load_itself_stops_at_the_weight_limit() {
        // Without the byte-level weighing in front: the filter lopdf calls per object refuses.
        let file = one_page_with(Object::Array(vec![0.into(); 2_000]));
        assert!(parse_within(&file, &Limits::default()).is_ok());
        let err = parse_within(&file, &Limits::default().with_max_pdf_weight(500)).unwrap_err();
        assert!(
            matches!(err, Error::Limit(LimitRule::PdfWeight { limit: 500 })),
            "{err:?}"
        );
    }

    #[test]
    fn the_load_itself_inflates_an_object_stream_only_within_the_stream_limit() {
        // 200 KB of members behind a few hundred bytes of deflate.
        let file = one_page_with_object_stream(100_000);
        assert!(file.len() < 4_096, "{} bytes", file.len());
        let loaded = parse_within(&file, &Limits::default()).unwrap();
        assert!(
            loaded.objects.contains_key(&(100, 0)),
            "the member was not loaded: {:?}",
            loaded.objects.keys().collect::<Vec<_>>()
        );
        let limit = 64 * 1024;
        let err =
            parse_within(&file, &Limits::default().with_max_pdf_stream_bytes(limit)).unwrap_err();
        assert!(
            matches!(err, Error::Limit(LimitRule::PdfStream { limit: l }) if l == limit),
            "{err:?}"
        );
    }

    #[test]
    fn weight_is_one_per_object_and_entry_and_one_per_128_bytes_of_data() {
        let long = vec![b'x'; 300];
        assert_eq!(weight(&Object::Integer(7)), 1);
        assert_eq!(weight(&Object::Name(b"Type".to_vec())), 1);
        assert_eq!(weight(&Object::Name(long.clone())), 1 + 2);
        assert_eq!(
            weight(&Object::String(long.clone(), StringFormat::Literal)),
            1 + 2
        );
        assert_eq!(
            weight(&Object::Array(vec![
                0.into(),
                Object::String(long.clone(), StringFormat::Hexadecimal),
            ])),
            1 + 1 + 3
        );
        // One for the dictionary, then per entry one, the key's data and the value.
        let mut dict = Dictionary::new();
        dict.set("A", 1);
        dict.set(long.clone(), Object::Name(long));
        assert_eq!(
            weight(&Object::Dictionary(dict.clone())),
            1 + 2 + (1 + 2 + 3)
        );
        // A stream: its dictionary (with the /Length lopdf adds) and its data.
        let stream = Stream::new(dict, vec![0; 1_000]);
        let of_dict = weight(&Object::Dictionary(stream.dict.clone()));
        assert_eq!(of_dict, 1 + 2 + 6 + 2);
        assert_eq!(weight(&Object::Stream(stream)), of_dict + 7);
    }

    #[test]
    fn a_media_box_is_the_page_s_own_or_inherited_and_has_four_numbers() {
        let mut doc = Document::with_version("1.7");
        let half = doc.add_object(Object::Real(0.5));
        let letter = doc.add_object(Object::Array(vec![
            0.into(),
            0.into(),
            612.into(),
            792.into(),
        ]));
        let root = doc.add_object(dictionary! { "MediaBox" => letter });
        let middle = doc.add_object(dictionary! { "Parent" => root });
        let inherits = doc.add_object(dictionary! { "Parent" => middle });
        let own = doc.add_object(dictionary! {
            "Parent" => root,
            "MediaBox" => vec![half.into(), 0.into(), Object::Real(300.25), 400.into()],
        });
        let three = doc.add_object(dictionary! {
            "Parent" => root, "MediaBox" => vec![0.into(), 0.into(), 300.into()],
        });
        let five = doc.add_object(dictionary! {
            "MediaBox" => vec![0.into(), 0.into(), 300.into(), 400.into(), 1.into()],
        });
        let text = doc.add_object(dictionary! {
            "MediaBox" => vec![0.into(), 0.into(), Object::string_literal("300"), 400.into()],
        });
        let orphan = doc.add_object(dictionary! { "Type" => "Page" });
        let looped = doc.new_object_id();
        doc.objects
            .insert(looped, dictionary! { "Parent" => looped }.into());
        assert_eq!(media_box(&doc, inherits), Some([0.0, 0.0, 612.0, 792.0]));
        assert_eq!(media_box(&doc, own), Some([0.5, 0.0, 300.25, 400.0]));
        for no_box in [three, five, text, orphan, looped] {
            assert_eq!(media_box(&doc, no_box), None, "{no_box:?}");
        }
    }

    #[test]
    fn a_walk_stops_within_1024_dictionaries_once_its_deadline_has_passed() {
        let mut doc = Document::with_version("1.7");
        for _ in 0..3_000 {
            doc.add_object(dictionary! { "K" => 1 });
        }
        let passed = Deadline::for_pdf(Instant::now(), Duration::ZERO);
        let time_left = Deadline::for_pdf(Instant::now(), Duration::from_secs(600));
        let is_time_limit = |e: &Error| matches!(e, Error::Limit(LimitRule::PdfTime { .. }));
        let mut visited = 0;
        let err = for_each_dict(&doc, passed, &mut |_| visited += 1).unwrap_err();
        assert!(is_time_limit(&err), "{err:?}");
        assert_eq!(visited, 1_023);
        let mut visited = 0;
        let err = for_each_dict_mut(&mut doc, passed, &mut |_| visited += 1).unwrap_err();
        assert!(is_time_limit(&err), "{err:?}");
        assert_eq!(visited, 1_023);
        // With time left, every dictionary is visited, the trailer included.
        let mut visited = 0;
        for_each_dict(&doc, time_left, &mut |_| visited += 1).unwrap();
        assert_eq!(visited, 3_001);
        let mut visited = 0;
        for_each_dict_mut(&mut doc, time_left, &mut |_| visited += 1).unwrap();
        assert_eq!(visited, 3_001);
    }

    #[test]
    fn finding_signatures_stops_at_a_passed_deadline() {
        let mut doc = Document::with_version("1.7");
        doc.add_object(dictionary! { "FT" => "Sig", "V" => dictionary! {} });
        let ind = Indirect::of(&doc);
        let passed = Deadline::for_pdf(Instant::now(), Duration::ZERO);
        let time_left = Deadline::for_pdf(Instant::now(), Duration::from_secs(600));
        assert!(matches!(
            Signatures::of(&doc, &ind, passed),
            Err(Error::Limit(LimitRule::PdfTime { .. }))
        ));
        let found = Signatures::of(&doc, &ind, time_left).unwrap();
        assert_eq!(found.direct.len(), 1);
    }
}
