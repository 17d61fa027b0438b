//! PDF: Info, XMP and page metadata removed, pages kept, active content and encryption refused.

use lopdf::{Document, Object, Stream, dictionary};
use ward_sanitize::{ActiveContent, ActiveContentPolicy, Category, Error, Sanitizer};

use crate::common::*;

fn media_boxes(pdf: &[u8]) -> Vec<Object> {
    let doc = Document::load_mem(pdf).unwrap();
    doc.get_pages()
        .values()
        .map(|&id| {
            doc.get_dictionary(id)
                .unwrap()
                .get(b"MediaBox")
                .unwrap()
                .clone()
        })
        .collect()
}

#[test]
fn info_xmp_piece_info_and_page_metadata_are_removed() {
    let input = save(&mut pdf_with_metadata(3));
    assert!(contains(&input, SECRET));
    let out = Sanitizer::new().sanitize("f.pdf", &input).unwrap();
    assert!(!contains(out.bytes(), SECRET));
    assert!(!contains(out.bytes(), b"xmpmeta"));
    assert!(!contains(out.bytes(), b"Scanner 3000"));
    let doc = Document::load_mem(out.bytes()).unwrap();
    assert!(!doc.trailer.has(b"Info"));
    assert!(!doc.catalog().unwrap().has(b"Metadata"));
    for id in doc.get_pages().values() {
        let page = doc.get_dictionary(*id).unwrap();
        assert!(!page.has(b"Metadata") && !page.has(b"PieceInfo") && !page.has(b"LastModified"));
    }
    let r = out.report();
    assert!(r.has_removed(Category::PdfInfo));
    assert!(r.has_removed(Category::PdfMetadata));
    assert!(r.has_removed(Category::PdfPieceInfo));
}

#[test]
fn pages_and_media_boxes_are_unchanged() {
    let input = save(&mut pdf_with_metadata(4));
    let out = Sanitizer::new().sanitize("f.pdf", &input).unwrap();
    assert_eq!(media_boxes(&input), media_boxes(out.bytes()));
    assert_eq!(media_boxes(out.bytes()).len(), 4);
}

#[test]
fn an_incremental_update_leaves_no_old_bytes() {
    // The original revision names the author; an appended update replaces the Info dictionary.
    let mut doc = pdf_with_metadata(1);
    let mut input = save(&mut doc);
    let info_id = doc.trailer.get(b"Info").unwrap().as_reference().unwrap();
    let root = doc.trailer.get(b"Root").unwrap().clone();
    let xref_at = input.len();
    let update = format!("{} 0 obj\n<< /Author (Nobody) >>\nendobj\n", info_id.0);
    input.extend_from_slice(update.as_bytes());
    let startxref_prev = {
        let s = String::from_utf8_lossy(&input);
        let at = s.rfind("startxref").unwrap();
        s[at + 9..]
            .split_whitespace()
            .next()
            .unwrap()
            .parse::<usize>()
            .unwrap()
    };
    let trailer = format!(
        "xref\n0 1\n0000000000 65535 f \n{} 1\n{:010} 00000 n \ntrailer\n<< /Size {} /Root {} {} R /Info {} 0 R /Prev {} >>\nstartxref\n{}\n%%EOF\n",
        info_id.0,
        xref_at,
        doc.max_id + 1,
        root.as_reference().unwrap().0,
        root.as_reference().unwrap().1,
        info_id.0,
        startxref_prev,
        xref_at + update.len(),
    );
    input.extend_from_slice(trailer.as_bytes());
    assert!(Document::load_mem(&input).is_ok());
    let out = Sanitizer::new().sanitize("f.pdf", &input).unwrap();
    assert!(!contains(out.bytes(), SECRET));
    assert!(!contains(out.bytes(), b"Nobody"));
    assert_eq!(
        String::from_utf8_lossy(out.bytes())
            .matches("%%EOF")
            .count(),
        1,
        "written as one fresh revision"
    );
}

fn with_catalog_entry(key: &str, value: Object) -> Vec<u8> {
    let mut doc = pdf_with_metadata(1);
    catalog_mut(&mut doc).set(key, value);
    save(&mut doc)
}

fn with_action(action: lopdf::Dictionary) -> Vec<u8> {
    let mut doc = pdf_with_metadata(1);
    let id = doc.add_object(action);
    catalog_mut(&mut doc).set("OpenAction", id);
    save(&mut doc)
}

fn rejected_as(pdf: &[u8]) -> ActiveContent {
    match Sanitizer::new().sanitize("f.pdf", pdf) {
        Err(Error::ActiveContent(kind)) => kind,
        other => panic!("expected active content, got {other:?}"),
    }
}

fn removable(pdf: &[u8]) {
    let out = Sanitizer::new()
        .with_active_content(ActiveContentPolicy::Remove)
        .sanitize("f.pdf", pdf)
        .unwrap();
    assert!(out.report().has_removed(Category::PdfActiveContent));
    // The cleaned file passes the default (rejecting) policy.
    Sanitizer::new().sanitize("f.pdf", out.bytes()).unwrap();
}

#[test]
fn javascript_is_rejected_by_default_and_removable() {
    let pdf = with_action(
        dictionary! { "S" => "JavaScript", "JS" => Object::string_literal("app.alert(1)") },
    );
    assert_eq!(rejected_as(&pdf), ActiveContent::JavaScript);
    removable(&pdf);
    let names = with_catalog_entry(
        "Names",
        Object::Dictionary(dictionary! { "JavaScript" => dictionary! { "Names" => vec![] } }),
    );
    assert_eq!(rejected_as(&names), ActiveContent::JavaScript);
    removable(&names);
}

#[test]
fn launch_and_remote_actions_are_rejected_and_removable() {
    for (s, kind) in [
        ("Launch", ActiveContent::Launch),
        ("GoToR", ActiveContent::RemoteGoTo),
        ("SubmitForm", ActiveContent::FormAction),
    ] {
        // On a link annotation, so OpenAction does not mask the kind.
        let mut doc = pdf_with_metadata(1);
        let action =
            doc.add_object(dictionary! { "S" => s, "F" => Object::string_literal("cmd.exe") });
        let annot = doc.add_object(dictionary! {
            "Type" => "Annot", "Subtype" => "Link", "Rect" => vec![0.into(), 0.into(), 10.into(), 10.into()], "A" => action,
        });
        let page = *doc.get_pages().values().next().unwrap();
        doc.get_dictionary_mut(page)
            .unwrap()
            .set("Annots", vec![annot.into()]);
        let pdf = save(&mut doc);
        assert_eq!(rejected_as(&pdf), kind, "{s}");
        removable(&pdf);
    }
}

#[test]
fn additional_actions_are_rejected_and_removable() {
    let mut doc = pdf_with_metadata(1);
    let page = *doc.get_pages().values().next().unwrap();
    doc.get_dictionary_mut(page).unwrap().set(
        "AA",
        dictionary! { "O" => dictionary! { "S" => "GoTo", "D" => vec![] } },
    );
    let pdf = save(&mut doc);
    assert_eq!(rejected_as(&pdf), ActiveContent::AdditionalActions);
    removable(&pdf);
}

#[test]
fn embedded_files_are_rejected_and_removable() {
    let mut doc = pdf_with_metadata(1);
    let file = doc.add_object(Stream::new(
        dictionary! { "Type" => "EmbeddedFile" },
        SECRET.to_vec(),
    ));
    let spec = doc.add_object(dictionary! { "Type" => "Filespec", "F" => Object::string_literal("a.txt"), "EF" => dictionary! { "F" => file } });
    catalog_mut(&mut doc).set(
        "Names",
        dictionary! { "EmbeddedFiles" => dictionary! { "Names" => vec![Object::string_literal("a.txt"), spec.into()] } },
    );
    let pdf = save(&mut doc);
    assert_eq!(rejected_as(&pdf), ActiveContent::EmbeddedFile);
    let out = Sanitizer::new()
        .with_active_content(ActiveContentPolicy::Remove)
        .sanitize("f.pdf", &pdf)
        .unwrap();
    assert!(!contains(out.bytes(), SECRET));
}

#[test]
fn xfa_is_rejected_and_removable() {
    let pdf = with_catalog_entry(
        "AcroForm",
        Object::Dictionary(
            dictionary! { "Fields" => vec![], "XFA" => Object::string_literal("<xdp/>") },
        ),
    );
    assert_eq!(rejected_as(&pdf), ActiveContent::Xfa);
    removable(&pdf);
}

#[test]
fn a_plain_goto_open_action_is_allowed() {
    let mut doc = pdf_with_metadata(1);
    let page = *doc.get_pages().values().next().unwrap();
    let goto =
        doc.add_object(dictionary! { "S" => "GoTo", "D" => vec![page.into(), "Fit".into()] });
    catalog_mut(&mut doc).set("OpenAction", goto);
    let pdf = save(&mut doc);
    assert!(Sanitizer::new().sanitize("f.pdf", &pdf).is_ok());
    let dest = with_catalog_entry("OpenAction", Object::Array(vec![page.into(), "Fit".into()]));
    assert!(Sanitizer::new().sanitize("f.pdf", &dest).is_ok());
}

#[test]
fn encrypted_pdfs_are_rejected() {
    let mut doc = pdf_with_metadata(1);
    let enc = doc.add_object(dictionary! {
        "Filter" => "Standard", "V" => 1, "R" => 2, "Length" => 40,
        "O" => Object::string_literal(vec![0u8; 32]), "U" => Object::string_literal(vec![0u8; 32]), "P" => -4,
    });
    doc.trailer.set("Encrypt", enc);
    doc.trailer.set(
        "ID",
        vec![
            Object::string_literal(vec![1u8; 16]),
            Object::string_literal(vec![1u8; 16]),
        ],
    );
    let pdf = save(&mut doc);
    let err = Sanitizer::new().sanitize("f.pdf", &pdf).unwrap_err();
    assert!(matches!(err, Error::Encrypted), "{err:?}");
    assert_eq!(err.rule(), "pdf.encrypted");
}

#[test]
fn annotation_authors_dates_and_comment_text_are_removed_but_form_field_names_kept() {
    // Seen failing before the comment text was removed: /Contents and /RC were kept.
    let mut doc = pdf_with_metadata(1);
    let comment = doc.add_object(dictionary! {
        "Type" => "Annot", "Subtype" => "Text", "Rect" => vec![0.into(), 0.into(), 10.into(), 10.into()],
        "T" => Object::string_literal(SECRET), "M" => Object::string_literal("D:20240101"),
        "Contents" => Object::string_literal("wound edge looks clean"),
        "RC" => Object::string_literal("<body><p>rich wound note</p></body>"),
        "Subj" => Object::string_literal("subject of the note"),
    });
    // A popup need not say /Type /Annot; some writers copy the comment text into it.
    let popup = doc.add_object(dictionary! {
        "Subtype" => "Popup", "Rect" => vec![0.into(), 0.into(), 10.into(), 10.into()],
        "Parent" => comment, "Contents" => Object::string_literal("popup wound note"),
    });
    let widget = doc.add_object(dictionary! {
        "Type" => "Annot", "Subtype" => "Widget", "FT" => "Tx", "Rect" => vec![0.into(), 0.into(), 10.into(), 10.into()],
        "T" => Object::string_literal("patient_signature_field"),
    });
    let page = *doc.get_pages().values().next().unwrap();
    doc.get_dictionary_mut(page)
        .unwrap()
        .set("Annots", vec![comment.into(), popup.into(), widget.into()]);
    let out = Sanitizer::new().sanitize("f.pdf", &save(&mut doc)).unwrap();
    assert!(!contains(out.bytes(), SECRET));
    assert!(!contains(out.bytes(), b"D:20240101"));
    assert!(!contains(out.bytes(), b"wound edge looks clean"));
    assert!(!contains(out.bytes(), b"rich wound note"));
    assert!(!contains(out.bytes(), b"subject of the note"));
    assert!(!contains(out.bytes(), b"popup wound note"));
    assert!(contains(out.bytes(), b"patient_signature_field"));
    assert!(out.report().has_removed(Category::PdfMetadata));
}

#[test]
fn free_text_keeps_the_text_it_shows() {
    // A FreeText annotation without an appearance stream is drawn from its /Contents (a form
    // filled in with a typewriter tool): that text is the page's content and stays. With an
    // appearance stream, the stream draws it and the copy in /Contents goes.
    let drawn = with_annotation(|doc| {
        let ap = doc.add_object(Stream::new(
            dictionary! { "Type" => "XObject", "Subtype" => "Form", "BBox" => rect() },
            b"BT (allergies: none) Tj ET".to_vec(),
        ));
        dictionary! {
            "Type" => "Annot", "Subtype" => "FreeText", "Rect" => rect(), "DA" => Object::string_literal("/Helv 10 Tf"),
            "Contents" => Object::string_literal("hidden free text copy"),
            "AP" => dictionary! { "N" => ap },
        }
    });
    let out = Sanitizer::new().sanitize("f.pdf", &drawn).unwrap();
    assert!(!contains(out.bytes(), b"hidden free text copy"));
    assert!(contains(out.bytes(), b"allergies: none"));
    let typed = with_annotation(|_| {
        dictionary! {
            "Type" => "Annot", "Subtype" => "FreeText", "Rect" => rect(), "DA" => Object::string_literal("/Helv 10 Tf"),
            "Contents" => Object::string_literal("typed answer shown on the page"),
            "T" => Object::string_literal(SECRET),
        }
    });
    let out = Sanitizer::new().sanitize("f.pdf", &typed).unwrap();
    assert!(contains(out.bytes(), b"typed answer shown on the page"));
    assert!(!contains(out.bytes(), SECRET));
}

/// What a signing tool records about the signer, each planted in the signature dictionary.
const SIGNER_DETAILS: &[&[u8]] = &[
    b"Amsterdam clinic room 4",
    b"jane.roe@example.org",
    b"consent to treatment",
    b"D:20261201093000",
    b"SignApp 7.1",
    b"CERT-JANE-ROE-SECRET",
];

fn signature_dictionary(with_type_and_byte_range: bool) -> lopdf::Dictionary {
    let mut sig = dictionary! {
        "Filter" => "Adobe.PPKLite",
        "SubFilter" => "adbe.pkcs7.detached",
        "Contents" => Object::string_literal("CERT-JANE-ROE-SECRET"),
        "Name" => Object::string_literal(SECRET),
        "Location" => Object::string_literal("Amsterdam clinic room 4"),
        "ContactInfo" => Object::string_literal("jane.roe@example.org"),
        "Reason" => Object::string_literal("consent to treatment"),
        "M" => Object::string_literal("D:20261201093000+01'00'"),
        "Prop_Build" => dictionary! { "App" => dictionary! { "Name" => Object::string_literal("SignApp 7.1") } },
    };
    if with_type_and_byte_range {
        sig.set("Type", "Sig");
        sig.set(
            "ByteRange",
            vec![0.into(), 100.into(), 200.into(), 300.into()],
        );
    }
    sig
}

fn assert_signer_details_removed(pdf: &[u8]) {
    for detail in SIGNER_DETAILS.iter().chain([&SECRET]) {
        assert!(contains(pdf, detail), "planted");
    }
    let out = Sanitizer::new().sanitize("f.pdf", pdf).unwrap();
    for detail in SIGNER_DETAILS.iter().chain([&SECRET]) {
        assert!(
            !contains(out.bytes(), detail),
            "{}",
            String::from_utf8_lossy(detail)
        );
    }
    assert!(
        contains(out.bytes(), b"consent_signature"),
        "field name kept"
    );
    assert!(
        contains(out.bytes(), b"Adobe.PPKLite"),
        "signature handler kept"
    );
    Document::load_mem(out.bytes()).unwrap();
}

#[test]
fn signature_dictionaries_lose_the_signer_details_and_the_certificate() {
    // Seen failing before: /Name, /Location, /ContactInfo, /Reason, /M, /Prop_Build and the
    // PKCS#7 /Contents were written out unchanged.
    // A signed field: a widget merged with its field, /V a `/Type /Sig` dictionary.
    let signed_field = with_annotation(|doc| {
        let sig = doc.add_object(signature_dictionary(true));
        let annot = dictionary! {
            "Type" => "Annot", "Subtype" => "Widget", "Rect" => rect(),
            "FT" => "Sig", "T" => Object::string_literal("consent_signature"), "V" => sig,
        };
        catalog_mut(doc).set("AcroForm", dictionary! { "SigFlags" => 3 });
        annot
    });
    assert_signer_details_removed(&signed_field);

    // No /Type and no /ByteRange: found as the /V of a kid whose /FT /Sig is inherited.
    let inherited = with_annotation(|doc| {
        let sig = doc.add_object(signature_dictionary(false));
        let field = doc.add_object(dictionary! {
            "FT" => "Sig", "T" => Object::string_literal("consent_signature"),
        });
        dictionary! {
            "Type" => "Annot", "Subtype" => "Widget", "Rect" => rect(),
            "Parent" => field, "V" => sig,
        }
    });
    assert_signer_details_removed(&inherited);

    // A direct /V, and a certification signature reached only through the catalog's /Perms.
    let mut doc = pdf_with_metadata(1);
    let certification = doc.add_object(signature_dictionary(false));
    catalog_mut(&mut doc).set("Perms", dictionary! { "DocMDP" => certification });
    let widget = doc.add_object(dictionary! {
        "Type" => "Annot", "Subtype" => "Widget", "Rect" => rect(),
        "FT" => "Sig", "T" => Object::string_literal("consent_signature"),
        "V" => signature_dictionary(false),
    });
    let page = *doc.get_pages().values().next().unwrap();
    doc.get_dictionary_mut(page)
        .unwrap()
        .set("Annots", vec![widget.into()]);
    assert_signer_details_removed(&save(&mut doc));
}

/// A one-page PDF whose page carries `annot` (built with the document, for indirect parts).
fn with_annotation(annot: impl FnOnce(&mut Document) -> lopdf::Dictionary) -> Vec<u8> {
    let mut doc = pdf_with_metadata(1);
    let annot = annot(&mut doc);
    let annot = doc.add_object(annot);
    let page = *doc.get_pages().values().next().unwrap();
    doc.get_dictionary_mut(page)
        .unwrap()
        .set("Annots", vec![annot.into()]);
    save(&mut doc)
}

fn rect() -> Object {
    vec![0.into(), 0.into(), 10.into(), 10.into()].into()
}

#[test]
fn an_indirect_action_type_is_resolved() {
    for (s, kind) in [
        ("Launch", ActiveContent::Launch),
        ("GoToR", ActiveContent::RemoteGoTo),
        ("ImportData", ActiveContent::FormAction),
    ] {
        // `/A << /S 9 0 R /F (cmd.exe) >>` with `9 0 obj /Launch endobj`.
        let pdf = with_annotation(|doc| {
            let name = doc.add_object(Object::Name(s.as_bytes().to_vec()));
            dictionary! {
                "Type" => "Annot", "Subtype" => "Link", "Rect" => rect(),
                "A" => dictionary! { "S" => name, "F" => Object::string_literal("cmd.exe") },
            }
        });
        assert_eq!(rejected_as(&pdf), kind, "{s}");
        removable(&pdf);
    }
    // The same for a name behind two references, and for an action object of its own.
    let pdf = with_annotation(|doc| {
        let name = doc.add_object(Object::Name(b"Launch".to_vec()));
        let hop = doc.add_object(Object::Reference(name));
        let action =
            doc.add_object(dictionary! { "S" => hop, "F" => Object::string_literal("cmd.exe") });
        dictionary! { "Type" => "Annot", "Subtype" => "Link", "Rect" => rect(), "A" => action }
    });
    assert_eq!(rejected_as(&pdf), ActiveContent::Launch);
    removable(&pdf);
}

#[test]
fn an_indirect_embedded_file_type_is_resolved() {
    let mut doc = pdf_with_metadata(1);
    let ty = doc.add_object(Object::Name(b"EmbeddedFile".to_vec()));
    let file = doc.add_object(Stream::new(dictionary! { "Type" => ty }, SECRET.to_vec()));
    catalog_mut(&mut doc).set("Extra", file);
    let pdf = save(&mut doc);
    assert_eq!(rejected_as(&pdf), ActiveContent::EmbeddedFile);
    let out = Sanitizer::new()
        .with_active_content(ActiveContentPolicy::Remove)
        .sanitize("f.pdf", &pdf)
        .unwrap();
    assert!(!contains(out.bytes(), SECRET));
}

#[test]
fn a_3d_annotation_script_is_javascript() {
    // A 3D annotation whose `/3DD` stream runs `/OnInstantiate 11 0 R` when shown.
    let pdf = with_annotation(|doc| {
        let script = doc.add_object(Stream::new(dictionary! {}, b"app.launchURL('x')".to_vec()));
        let model = doc.add_object(Stream::new(
            dictionary! { "Type" => "3D", "Subtype" => "U3D", "OnInstantiate" => script },
            b"U3D\0".to_vec(),
        ));
        dictionary! { "Type" => "Annot", "Subtype" => "3D", "Rect" => rect(), "3DD" => model }
    });
    assert_eq!(rejected_as(&pdf), ActiveContent::JavaScript);
    removable(&pdf);
    let out = Sanitizer::new()
        .with_active_content(ActiveContentPolicy::Remove)
        .sanitize("f.pdf", &pdf)
        .unwrap();
    assert!(!contains(out.bytes(), b"launchURL"));
}

#[test]
fn rich_media_and_its_execute_action_are_rejected_and_removable() {
    let content = || {
        dictionary! {
            "Assets" => dictionary! { "Names" => vec![] },
            "Configurations" => vec![],
        }
    };
    let annotation = with_annotation(|_| {
        dictionary! {
            "Type" => "Annot", "Subtype" => "RichMedia", "Rect" => rect(),
            "RichMediaContent" => content(),
            "RichMediaSettings" => dictionary! { "Activation" => dictionary! { "Condition" => "PO" } },
        }
    });
    assert_eq!(rejected_as(&annotation), ActiveContent::RichMedia);
    removable(&annotation);
    let execute = with_annotation(|doc| {
        let target = doc
            .add_object(dictionary! { "Type" => "Annot", "Subtype" => "Link", "Rect" => rect() });
        dictionary! {
            "Type" => "Annot", "Subtype" => "Link", "Rect" => rect(),
            "A" => dictionary! {
                "S" => "RichMediaExecute", "TA" => target,
                "CMD" => dictionary! { "C" => Object::string_literal("play") },
            },
        }
    });
    assert_eq!(rejected_as(&execute), ActiveContent::RichMedia);
    removable(&execute);
}

#[test]
fn a_javascript_uri_is_javascript_and_a_web_link_is_kept() {
    for uri in [
        &b"javascript:app.alert(1)"[..],
        b"  JavaScript:app.alert(1)",
        b"java\tscript:app.alert(1)",
        b"VBScript:msgbox(1)",
    ] {
        let pdf = with_annotation(|doc| {
            let uri = doc.add_object(Object::string_literal(uri.to_vec()));
            dictionary! {
                "Type" => "Annot", "Subtype" => "Link", "Rect" => rect(),
                "A" => dictionary! { "S" => "URI", "URI" => uri },
            }
        });
        assert_eq!(rejected_as(&pdf), ActiveContent::JavaScript);
        removable(&pdf);
    }
    let web = with_annotation(|_| {
        dictionary! {
            "Type" => "Annot", "Subtype" => "Link", "Rect" => rect(),
            "A" => dictionary! { "S" => "URI", "URI" => Object::string_literal("https://example.org/javascript:") },
        }
    });
    let out = Sanitizer::new().sanitize("f.pdf", &web).unwrap();
    assert!(contains(out.bytes(), b"https://example.org"));
}

#[test]
fn the_encrypt_name_spelled_with_an_escape_in_a_string_is_not_encryption() {
    // `(\057Encrypt)` is the text "/Encrypt", which lopdf writes back as `(/Encrypt)`: only
    // the upload is scanned for the name. (Same length as the placeholder: offsets hold.)
    let mut pdf = with_catalog_entry("Note", Object::string_literal("XXXXEncrypt"));
    let at = pdf.windows(13).position(|w| w == b"(XXXXEncrypt)").unwrap();
    pdf[at..at + 13].copy_from_slice(b"(\\057Encrypt)");
    assert!(!contains(&pdf, b"/Encrypt"));
    let out = Sanitizer::new().sanitize("f.pdf", &pdf).unwrap();
    assert!(contains(out.bytes(), b"(/Encrypt)"));
}

#[test]
fn a_signature_value_pointing_at_a_page_leaves_the_page_alone() {
    // A hostile /V or /Perms entry naming the page must not cost the page its /Contents.
    let mut doc = pdf_with_metadata(1);
    let page = *doc.get_pages().values().next().unwrap();
    catalog_mut(&mut doc).set("Perms", dictionary! { "DocMDP" => page });
    let widget = doc.add_object(dictionary! {
        "Type" => "Annot", "Subtype" => "Widget", "Rect" => rect(),
        "FT" => "Sig", "T" => Object::string_literal("consent_signature"), "V" => page,
    });
    doc.get_dictionary_mut(page)
        .unwrap()
        .set("Annots", vec![widget.into()]);
    let out = Sanitizer::new().sanitize("f.pdf", &save(&mut doc)).unwrap();
    let doc = Document::load_mem(out.bytes()).unwrap();
    let page = *doc.get_pages().values().next().unwrap();
    assert!(doc.get_dictionary(page).unwrap().has(b"Contents"));
}

/// The annotations of the first page of `pdf`, by their `/NM` (unique name), resolved.
fn annotations_by_name(pdf: &[u8]) -> Vec<(String, lopdf::Dictionary)> {
    let doc = Document::load_mem(pdf).unwrap();
    let page = *doc.get_pages().values().next().unwrap();
    let annots = doc.get_dictionary(page).unwrap().get(b"Annots").unwrap();
    let annots = doc.dereference(annots).unwrap().1.as_array().unwrap();
    annots
        .iter()
        .map(|a| {
            let d = doc.dereference(a).unwrap().1.as_dict().unwrap().clone();
            let name =
                String::from_utf8_lossy(d.get(b"NM").unwrap().as_str().unwrap()).into_owned();
            (name, d)
        })
        .collect()
}

/// The action under `/A` of an annotation in a written file, resolved.
fn action_of(pdf: &[u8], annot: &lopdf::Dictionary) -> Option<lopdf::Dictionary> {
    let doc = Document::load_mem(pdf).unwrap();
    let a = annot.get(b"A").ok()?;
    Some(doc.dereference(a).unwrap().1.as_dict().unwrap().clone())
}

#[test]
fn removal_takes_the_entries_that_lead_to_active_content_and_leaves_plain_links() {
    // Each link names itself in /NM; the dangerous actions are reached by reference, directly,
    // and through /Next arrays of either kind.
    let mut doc = pdf_with_metadata(1);
    let page = *doc.get_pages().values().next().unwrap();
    let goto = || dictionary! { "S" => "GoTo", "D" => vec![page.into(), "Fit".into()] };
    let launch = || dictionary! { "S" => "Launch", "F" => Object::string_literal("cmd.exe") };
    let js = doc.add_object(
        dictionary! { "S" => "JavaScript", "JS" => Object::string_literal("app.alert(1)") },
    );
    let file = doc.add_object(Stream::new(
        dictionary! { "Type" => "EmbeddedFile" },
        SECRET.to_vec(),
    ));
    let plain = doc.add_object(goto());
    let mut next_ref = goto();
    next_ref.set("Next", vec![js.into()]);
    let mut next_direct = goto();
    next_direct.set("Next", vec![Object::Dictionary(launch())]);
    let mut annots = Vec::new();
    for (name, action) in [
        ("js-by-reference", Object::Reference(js)),
        ("launch-direct", Object::Dictionary(launch())),
        ("file-by-reference", Object::Reference(file)),
        ("next-by-reference", Object::Dictionary(next_ref)),
        ("next-direct", Object::Dictionary(next_direct)),
        ("plain-goto", Object::Reference(plain)),
    ] {
        annots.push(
            doc.add_object(dictionary! {
                "Type" => "Annot", "Subtype" => "Link", "Rect" => rect(),
                "NM" => Object::string_literal(name), "A" => action,
            })
            .into(),
        );
    }
    doc.get_dictionary_mut(page).unwrap().set("Annots", annots);
    let plain_open = doc.add_object(goto());
    catalog_mut(&mut doc).set("OpenAction", plain_open);
    let pdf = save(&mut doc);
    assert_eq!(rejected_as(&pdf), ActiveContent::JavaScript);
    removable(&pdf);
    let out = Sanitizer::new()
        .with_active_content(ActiveContentPolicy::Remove)
        .sanitize("f.pdf", &pdf)
        .unwrap();
    let b = out.bytes();
    for gone in [&b"app.alert"[..], b"cmd.exe", SECRET] {
        assert!(!contains(b, gone), "{}", String::from_utf8_lossy(gone));
    }
    let annots = annotations_by_name(b);
    assert_eq!(annots.len(), 6);
    for (name, annot) in &annots {
        let action = action_of(b, annot);
        match name.as_str() {
            // The entry goes, not just what it points at: no empty action is left behind.
            "js-by-reference" | "launch-direct" | "file-by-reference" => {
                assert_eq!(action, None, "{name}");
            }
            // A harmless action loses only the dangerous /Next.
            "next-by-reference" | "next-direct" | "plain-goto" => {
                let action = action.unwrap_or_else(|| panic!("{name} lost its action"));
                assert_eq!(action.get(b"S").unwrap().as_name().unwrap(), b"GoTo");
                assert!(action.has(b"D") && !action.has(b"Next"), "{name}");
            }
            other => panic!("unexpected annotation {other}"),
        }
    }
    let written = Document::load_mem(b).unwrap();
    assert!(
        written.catalog().unwrap().has(b"OpenAction"),
        "a plain GoTo open action is kept"
    );
}

#[test]
fn each_way_of_carrying_a_file_is_found_and_removed() {
    // A name tree of embedded files (empty), a file specification whose /EF stream has no
    // /Type, a file attachment annotation whose /FS names a file, and an object typed as an
    // embedded file that is a dictionary rather than a stream.
    let names_only = with_catalog_entry(
        "Names",
        Object::Dictionary(dictionary! { "EmbeddedFiles" => dictionary! { "Names" => vec![] } }),
    );
    let ef_only = {
        let mut doc = pdf_with_metadata(1);
        let file = doc.add_object(Stream::new(dictionary! {}, SECRET.to_vec()));
        let spec = doc.add_object(dictionary! {
            "Type" => "Filespec", "F" => Object::string_literal("a.txt"), "EF" => dictionary! { "F" => file },
        });
        catalog_mut(&mut doc).set("Extra", spec);
        save(&mut doc)
    };
    let attachment = with_annotation(|doc| {
        let spec = doc.add_object(dictionary! {
            "Type" => "Filespec", "F" => Object::string_literal("referral.pdf"),
        });
        dictionary! {
            "Type" => "Annot", "Subtype" => "FileAttachment", "Rect" => rect(), "FS" => spec,
        }
    });
    let typed_dictionary = {
        let mut doc = pdf_with_metadata(1);
        let file = doc.add_object(dictionary! {
            "Type" => "EmbeddedFile", "Note" => Object::string_literal(SECRET),
        });
        catalog_mut(&mut doc).set("Extra", file);
        save(&mut doc)
    };
    for (what, pdf) in [
        ("name tree", &names_only),
        ("/EF", &ef_only),
        ("/FS", &attachment),
        ("typed dictionary", &typed_dictionary),
    ] {
        assert_eq!(rejected_as(pdf), ActiveContent::EmbeddedFile, "{what}");
        removable(pdf);
        let out = Sanitizer::new()
            .with_active_content(ActiveContentPolicy::Remove)
            .sanitize("f.pdf", pdf)
            .unwrap();
        assert!(!contains(out.bytes(), SECRET), "{what}");
        assert!(!contains(out.bytes(), b"referral.pdf"), "{what}");
        // The page's content stream stays.
        assert!(contains(out.bytes(), b"BT ET"), "{what}");
    }
}

#[test]
fn a_removed_embedded_file_is_counted_with_its_size() {
    let mut doc = pdf_with_metadata(1);
    let file = doc.add_object(Stream::new(
        dictionary! { "Type" => "EmbeddedFile" },
        SECRET.to_vec(),
    ));
    let spec = doc.add_object(dictionary! { "Type" => "Filespec", "F" => Object::string_literal("a.txt"), "EF" => dictionary! { "F" => file } });
    catalog_mut(&mut doc).set("Extra", spec);
    let out = Sanitizer::new()
        .with_active_content(ActiveContentPolicy::Remove)
        .sanitize("f.pdf", &save(&mut doc))
        .unwrap();
    assert_eq!(
        out.report().removed_bytes(Category::PdfActiveContent),
        SECRET.len() as u64
    );
    assert!(contains(out.bytes(), b"BT ET"), "content stream kept");
}

#[test]
fn an_indirect_web_link_is_kept() {
    let web = with_annotation(|doc| {
        let uri = doc.add_object(Object::string_literal("https://example.org/wound-care"));
        dictionary! {
            "Type" => "Annot", "Subtype" => "Link", "Rect" => rect(),
            "A" => dictionary! { "S" => "URI", "URI" => uri },
        }
    });
    let out = Sanitizer::new().sanitize("f.pdf", &web).unwrap();
    assert!(contains(out.bytes(), b"https://example.org/wound-care"));
}

#[test]
fn signature_dictionaries_lose_the_signer_details_wherever_they_sit() {
    // Typed only, with only a /ByteRange, and an untyped one written as a stream under /Perms:
    // none is the value of a signature field.
    let mut doc = pdf_with_metadata(1);
    let mut typed = signature_dictionary(false);
    typed.set("Type", "Sig");
    let typed = doc.add_object(typed);
    let mut ranged = signature_dictionary(false);
    ranged.set(
        "ByteRange",
        vec![0.into(), 100.into(), 200.into(), 300.into()],
    );
    let ranged = doc.add_object(ranged);
    let as_stream = doc.add_object(Stream::new(signature_dictionary(false), Vec::new()));
    let catalog = catalog_mut(&mut doc);
    catalog.set("Extra", vec![typed.into(), ranged.into()]);
    catalog.set("Perms", dictionary! { "DocMDP" => as_stream });
    let pdf = save(&mut doc);
    let out = Sanitizer::new().sanitize("f.pdf", &pdf).unwrap();
    for detail in SIGNER_DETAILS.iter().chain([&SECRET]) {
        assert!(contains(&pdf, detail), "planted");
        assert!(
            !contains(out.bytes(), detail),
            "{}",
            String::from_utf8_lossy(detail)
        );
    }
    assert_eq!(
        String::from_utf8_lossy(out.bytes())
            .matches("Adobe.PPKLite")
            .count(),
        3,
        "the handlers stay"
    );
}

#[test]
fn an_untyped_object_that_is_no_signature_keeps_its_entries() {
    // An image XObject need not say /Type; its /Name is a resource name, not a signer's.
    let pixels = zlib(&[200u8; 2 * 2 * 3]);
    let (mut doc, image) = pdf_with_image(pixels, "FlateDecode".into(), (2, 2));
    let Object::Stream(s) = doc.objects.get_mut(&image).unwrap() else {
        panic!("image is a stream")
    };
    s.dict.remove(b"Type");
    s.dict.set("Name", "Im1");
    let out = Sanitizer::new().sanitize("f.pdf", &save(&mut doc)).unwrap();
    let doc = Document::load_mem(out.bytes()).unwrap();
    let images: Vec<_> = doc
        .objects
        .values()
        .filter_map(|o| o.as_stream().ok())
        .filter(|s| s.dict.get(b"Subtype").ok() == Some(&Object::Name(b"Image".to_vec())))
        .collect();
    assert_eq!(images.len(), 1);
    assert_eq!(
        images[0].dict.get(b"Name").unwrap().as_name().unwrap(),
        b"Im1"
    );
}

#[test]
fn xmp_streams_go_however_they_are_reached_and_say_only_one_of_type_or_subtype() {
    let mut doc = pdf_with_metadata(1);
    let typed = doc.add_object(Stream::new(
        dictionary! { "Type" => "Metadata" },
        b"<x:xmpmeta>typed only</x:xmpmeta>".to_vec(),
    ));
    let subtyped = doc.add_object(Stream::new(
        dictionary! { "Subtype" => "XML" },
        b"<x:xmpmeta>subtyped only</x:xmpmeta>".to_vec(),
    ));
    catalog_mut(&mut doc).set("Extra", vec![typed.into(), subtyped.into()]);
    let out = Sanitizer::new().sanitize("f.pdf", &save(&mut doc)).unwrap();
    assert!(!contains(out.bytes(), b"typed only"));
    assert!(!contains(out.bytes(), b"subtyped only"));
    assert!(contains(out.bytes(), b"BT ET"), "content stream kept");
}

#[test]
fn an_action_written_inside_an_array_is_found_and_removed() {
    // A link annotation written in the page's /Annots array itself, not as an object of its own.
    let mut doc = pdf_with_metadata(1);
    let page = *doc.get_pages().values().next().unwrap();
    doc.get_dictionary_mut(page).unwrap().set(
        "Annots",
        vec![Object::Dictionary(dictionary! {
            "Type" => "Annot", "Subtype" => "Link", "Rect" => rect(),
            "A" => dictionary! { "S" => "Launch", "F" => Object::string_literal("cmd.exe") },
        })],
    );
    let pdf = save(&mut doc);
    assert_eq!(rejected_as(&pdf), ActiveContent::Launch);
    removable(&pdf);
}

#[test]
fn an_open_action_that_does_more_than_go_to_a_page_is_refused_and_removable() {
    for action in [
        dictionary! { "S" => "Named", "N" => "Print" },
        // A plain GoTo that goes on to a further action.
        dictionary! {
            "S" => "GoTo", "D" => vec![],
            "Next" => dictionary! { "S" => "Named", "N" => "NextPage" },
        },
    ] {
        let pdf = with_action(action);
        assert_eq!(rejected_as(&pdf), ActiveContent::OpenAction);
        removable(&pdf);
    }
}

#[test]
fn a_javascript_uri_written_in_the_action_itself_is_javascript() {
    let pdf = with_annotation(|_| {
        dictionary! {
            "Type" => "Annot", "Subtype" => "Link", "Rect" => rect(),
            "A" => dictionary! { "S" => "URI", "URI" => Object::string_literal("javascript:app.alert(1)") },
        }
    });
    assert_eq!(rejected_as(&pdf), ActiveContent::JavaScript);
    removable(&pdf);
}
