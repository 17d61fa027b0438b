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
